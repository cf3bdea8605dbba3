/** pairing: the Control UI closes with `1008 pairing required` until the device is approved. */
import { t } from '../../i18n/index.js';
import { bootLines, devicesArgv, findings } from '../evidence.js';
import type { Check } from '../types.js';
import { logEvidence, missing, sshHint } from './common.js';
import { GATEWAY_USER } from '../../gateway/runtime.js';

export const pairingCheck: Check = {
  id: 'pairing',
  title: 'no browser waiting for device pairing',
  run(ev) {
    const skip = missing(ev, ev.logs, 'the logs');
    if (skip) return skip;
    const lines = findings(bootLines(ev)).filter((f) => f.kind === 'pairing');
    if (!lines.length) return { status: 'ok', summary: t('doctor.pairing.none') };
    const evidence = lines.slice(-2).map((f) => logEvidence(f.line));
    const approve = (id: string) => sshHint(ev, devicesArgv(ev.project, ev.machine, ['approve', id]), GATEWAY_USER);
    if (ev.devices?.ok) {
      const pending = ev.devices.value!.pending;
      if (!pending.length) return { status: 'ok', summary: t('doctor.pairing.allApproved') };
      return {
        status: 'fail',
        summary: t('doctor.pairing.pending', { count: pending.length }),
        evidence: [...evidence, ...pending.map((p) => `pending request ${p.requestId}${p.client ? ` from ${p.client}` : ''}${p.requestedAt ? ` at ${p.requestedAt}` : ''}`)],
        fix: t('doctor.pairing.fix', { command: approve(pending[pending.length - 1]!.requestId) }),
      };
    }
    return {
      status: 'fail',
      summary: t('doctor.pairing.refused'),
      evidence: [...evidence, ...(ev.devices?.error ? [`devices list: ${ev.devices.error}`] : [])],
      fix: t('doctor.pairing.fix', { command: approve('<requestId>') }),
    };
  },
  fixKind: (ev) => (ev.devices?.ok && ev.devices.value!.pending.length ? 'pairing' : undefined),
};
