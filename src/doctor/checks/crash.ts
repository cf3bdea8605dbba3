/**
 * crash-loop: the machine stopped after repeated crashes (Fly's default on-failure policy gives up
 * after 10), including the known crash of the pinned runtime (runtime.knownCrashes).
 */
import { t } from '../../i18n/index.js';
import { configLines, crashExits } from '../evidence.js';
import type { Check } from '../types.js';
import { app, isResult, logEvidence, needMachine } from './common.js';

export const crashLoopCheck: Check = {
  id: 'crash-loop',
  title: 'not stopped by a crash loop',
  run(ev) {
    const tomlPolicy = ev.project.fly.restartPolicy;
    if (ev.offline) {
      if (tomlPolicy !== 'always') {
        return { status: 'warn', summary: t('doctor.crash.offlineNoPolicy'), fix: 'fly.toml: [[restart]] policy = "always"' };
      }
      return { status: 'ok', summary: t('doctor.crash.offlineOk') };
    }
    const m = needMachine(ev);
    if (isResult(m)) return m;
    const crashes = crashExits(m).filter((e) => e.code !== 0 || e.oom);
    const known = ev.project.runtime.knownCrashes.flatMap((k) => configLines(ev).filter((l) => k.pattern.test(l.message)).map((l) => ({ k, line: l.message })));
    const policy = m.config?.restart?.policy ?? '(default: on-failure, 10 retries)';
    const evidence = [
      `machine ${m.id} state: ${m.state}; restart policy: ${policy}${m.config?.restart?.max_retries !== undefined ? `, max_retries ${m.config.restart.max_retries}` : ''}`,
      ...(crashes.length ? [`${crashes.length} crash exit(s) since the last config change, last exit_code=${crashes[0]!.code ?? '?'}`] : []),
      ...known.slice(0, 2).map((k) => logEvidence(k.line)),
    ];
    const knownNote = known.length ? ` — ${known[0]!.k.summary}` : '';
    if (m.state !== 'started' && crashes.length) {
      return {
        status: 'fail',
        summary: t('doctor.crash.stopped', { machine: m.id, state: m.state ?? '?', count: crashes.length, note: knownNote }),
        evidence,
        fix: tomlPolicy === 'always' && m.config?.restart?.policy === 'always'
          ? `fly machine start ${m.id} -a ${app(ev)}`
          : t('doctor.crash.policyFix'),
      };
    }
    if (crashes.length >= 3 || known.length) {
      return {
        status: 'warn',
        summary: t('doctor.crash.many', { count: crashes.length, note: knownNote }) + (m.config?.restart?.policy !== 'always' ? t('doctor.crash.manyPolicy') : ''),
        evidence,
        fix: known[0]?.k.fix ?? t('doctor.crash.otherChecks'),
      };
    }
    return { status: 'ok', summary: t('doctor.crash.ok', { state: m.state ?? '?', count: crashes.length, policy }) };
  },
  fixKind: (ev) => (ev.machine && ev.machine.state !== 'started' ? (ev.project.fly.restartPolicy === 'always' && ev.machine.config?.restart?.policy === 'always' ? 'start' : 'redeploy') : undefined),
};
