/** state-dir (state on the volume) and command-drift (a manual `machine update --command` the next deploy undoes). */
import { t } from '../../i18n/index.js';
import { stateDirFix } from '../../project/checks.js';
import { GATEWAY_UID } from '../../gateway/runtime.js';
import { bootLines, findings, isInside, machineCmd, machineEnv } from '../evidence.js';
import type { Check, CheckResult } from '../types.js';
import { app, cmdText, isResult, logEvidence, missing, needMachine, sshHint, tomlCmd } from './common.js';

export const stateDirCheck: Check = {
  id: 'state-dir',
  title: 'state dir on the mounted volume',
  run(ev) {
    const name = ev.project.runtime.env.stateDir;
    const fly = ev.project.fly;
    const problems: string[] = [];
    const evidence: string[] = [];
    if (!fly.mountDestination) {
      problems.push(t('doctor.state.noMounts'));
      evidence.push('fly.toml: no [mounts] section');
    } else if (!isInside(fly.env[name], fly.mountDestination)) {
      problems.push(fly.env[name] ? t('doctor.state.tomlOutside', { name, value: fly.env[name], mount: fly.mountDestination }) : t('doctor.state.tomlUnset', { name }));
      evidence.push(`fly.toml [env] ${name} = ${fly.env[name] ? `"${fly.env[name]}"` : '(unset)'}; [mounts] destination = "${fly.mountDestination}"`);
    }
    if (!ev.offline) {
      const m = needMachine(ev);
      if (isResult(m)) return problems.length ? fail(problems, evidence, ev) : m;
      const mount = m.config?.mounts?.[0]?.path;
      const value = machineEnv(m)[name];
      if (!mount) {
        problems.push(t('doctor.state.noVolume', { machine: m.id }));
        evidence.push(`machine ${m.id} config.mounts: []`);
      } else if (!isInside(value, mount)) {
        problems.push(value ? t('doctor.state.machineOutside', { name, value, machine: m.id, mount }) : t('doctor.state.machineUnset', { name, machine: m.id, home: ev.project.runtime.homeStateDir }));
        evidence.push(`machine ${m.id} env ${name} = ${value ? `"${value}"` : '(unset)'}; mounts[0].path = "${mount}"`);
      } else {
        const dir = ev.remote?.value?.stateDirs.find((d) => d.path === value);
        if (dir && !dir.exists) {
          problems.push(t('doctor.state.absent', { dir: value ?? '' }));
          evidence.push(`${value}: absent`);
        }
        const eacces = findings(bootLines(ev)).filter((f) => f.kind === 'eacces' && f.line.includes(value ?? mount));
        if (eacces.length) {
          return {
            status: 'fail',
            summary: t('doctor.state.notWritable', { dir: value ?? mount }),
            evidence: eacces.slice(0, 2).map((f) => logEvidence(f.line)),
            fix: `${sshHint(ev, ['chown', '-R', `${GATEWAY_UID}:${GATEWAY_UID}`, '--', value ?? mount])}   ${t('doctor.state.chownNote', { uid: GATEWAY_UID })}`,
          };
        }
      }
      if (!problems.length) {
        const unprobed = missing(ev, ev.remote, 'the state dir') ? t('doctor.state.notProbed') : '';
        return { status: 'ok', summary: t('doctor.state.okMachine', { name, value: value ?? '', volume: m.config?.mounts?.[0]?.name ?? m.config?.mounts?.[0]?.volume ?? '', mount: mount ?? '', note: unprobed }) };
      }
    }
    if (!problems.length) return { status: 'ok', summary: t('doctor.state.okToml', { name, value: fly.env[name] ?? '', mount: fly.mountDestination ?? '' }) };
    return fail(problems, evidence, ev);
  },
  fixKind: (ev) => (ev.project.fly.mountDestination ? 'redeploy' : undefined),
};

function fail(problems: string[], evidence: string[], ev: Parameters<Check['run']>[0]): CheckResult {
  return {
    status: 'fail',
    summary: t('doctor.state.lost', { problems: problems.join('; ') }),
    evidence,
    fix: stateDirFix(ev.project),
  };
}

export const commandDriftCheck: Check = {
  id: 'command-drift',
  title: "machine command matches fly.toml",
  run(ev) {
    if (ev.offline) return { status: 'skip', summary: t('doctor.drift.skipOffline') };
    const m = needMachine(ev);
    if (isResult(m)) return m;
    const machine = machineCmd(m) ?? [];
    const toml = tomlCmd(ev) ?? [];
    if (machine.join('\u0000') === toml.join('\u0000')) return { status: 'ok', summary: t('doctor.drift.ok') };
    return {
      status: 'fail',
      summary: t('doctor.drift.differs', { machine: m.id }),
      evidence: [`machine ${m.id} init.cmd: ${cmdText(machine)}`, `fly.toml [processes] app = "${ev.project.fly.processCommand ?? ''}"`],
      fix: t('doctor.drift.fix'),
    };
  },
  fixKind: () => 'redeploy',
};
