/**
 * lock: "gateway already running" at start because a lock file outlived its owner, or "Another Gateway
 * owner lease is still active": the owner lease a gateway keeps in its SQLite state (the runtime row's
 * ownerLease) outlived a killed boot. The entrypoint releases a lease whose owner is gone at every
 * start, so a restart is the fix.
 */
import { t } from '../../i18n/index.js';
import { bootLines, findings } from '../evidence.js';
import { staleReason } from '../remote.js';
import type { Check } from '../types.js';
import { app, logEvidence, missing, shellLine, sshHint } from './common.js';

export const lockCheck: Check = {
  id: 'lock',
  title: 'no stale gateway lock',
  run(ev) {
    const bootFindings = findings(bootLines(ev));
    const lockLines = bootFindings.filter((f) => f.kind === 'lock');
    const leaseLines = bootFindings.filter((f) => f.kind === 'owner-lease');
    const skip = missing(ev, ev.remote, 'the lock files');
    const locks = ev.remote?.value?.locks ?? [];
    const stale = locks.map((l) => ({ l, reason: staleReason(l) })).filter((x) => x.reason);
    const evidence = [
      ...lockLines.slice(0, 2).map((f) => logEvidence(f.line)),
      // the lock's own bytes are the gateway user's: no control characters reach the terminal
      ...stale.map(({ l, reason }) => `${l.path}: ${l.raw.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')} — ${reason}`),
    ];
    const id = ev.machine?.id ?? '<machine-id>';
    const restart = ev.machine ? shellLine(['fly', 'machine', 'restart', id, '-a', ev.project.app]) : `fly machine restart <machine-id> -a ${app(ev)}`;
    if (!stale.length && !lockLines.length && leaseLines.length) {
      return {
        status: 'fail',
        summary: t('doctor.lock.lease'),
        evidence: leaseLines.slice(0, 2).map((f) => logEvidence(f.line)),
        fix: restart,
      };
    }
    if (stale.length || lockLines.length) {
      return {
        status: 'fail',
        summary: stale.length
          ? t('doctor.lock.stale', { count: stale.length })
          : t('doctor.lock.timeout'),
        evidence,
        fix: stale.length
          ? `${sshHint(ev, ['rm', '-f', '--', ...stale.map((s) => s.l.path)])} && ${restart}`
          : restart,
      };
    }
    if (skip) return skip;
    return { status: 'ok', summary: locks.length ? t('doctor.lock.ok', { count: locks.length }) : t('doctor.lock.none') };
  },
  fixKind: () => 'lock',
};
