/** config (missing, unreadable or rejected) and workspace (agent memory on the volume). */
import { t } from '../../i18n/index.js';
import { checkConfigText, formatProblem } from '../../gateway/config-parse.js';
import { DEFAULT_WORKSPACE, STATE_DIR, WORKSPACE_SUBDIR } from '../../gateway/runtime.js';
import { bootLines, effectiveConfig, findings, isInside, machineConfigPath, machineEnv, remoteConfigFile } from '../evidence.js';
import type { Check, CheckResult } from '../types.js';
import { app, isResult, logEvidence, missing, needMachine } from './common.js';

function localProblems(ev: Parameters<Check['run']>[0]): CheckResult | undefined {
  const file = ev.project.runtime.configFileName;
  if (!ev.localConfig) return undefined;
  if (!ev.localConfig.ok) {
    return {
      status: 'fail',
      summary: t('doctor.config.localRejected', { file }),
      evidence: ev.localConfig.problems.slice(0, 5).map((p) => formatProblem(p, file)),
      fix: t('doctor.config.localFix', { file }),
    };
  }
  return undefined;
}

export const configCheck: Check = {
  id: 'config',
  title: 'config present and accepted',
  run(ev) {
    const file = ev.project.runtime.configFileName;
    const local = localProblems(ev);
    if (ev.offline) return local ?? (ev.localConfig ? { status: 'ok', summary: t('doctor.config.localValid', { file }) } : { status: 'warn', summary: t('doctor.config.noLocal', { file }), fix: 'clawdfly init' });
    const rejected = findings(bootLines(ev)).filter((f) => f.kind === 'config-invalid' || f.kind === 'config-missing');
    const m = needMachine(ev);
    const path = machineConfigPath(ev);
    const pushFix = `clawdfly config push${isResult(m) ? '' : `   (then: fly machine restart ${m.id} -a ${app(ev)})`}`;
    if (rejected.length) {
      const problems = rejected.flatMap((f) => (f.kind === 'config-invalid' ? f.problems : []));
      return {
        status: 'fail',
        summary: rejected.some((f) => f.kind === 'config-invalid') ? t('doctor.config.remoteRejected', { path: path ?? file }) : t('doctor.config.remoteMissingRefused'),
        evidence: [...rejected.slice(0, 2).map((f) => logEvidence(f.line)), ...problems.slice(0, 5).map((p) => `problem: ${p}`)],
        fix: local ? local.fix : pushFix,
      };
    }
    if (isResult(m)) return local ?? m;
    const skip = missing(ev, ev.remote, 'the remote config');
    if (skip) return local ?? skip;
    if (!machineEnv(m)[ev.project.runtime.env.stateDir] && !machineEnv(m)[ev.project.runtime.env.configPath]) {
      return { status: 'warn', summary: t('doctor.config.stateDirUnset', { name: ev.project.runtime.env.stateDir, path: `${ev.project.runtime.homeStateDir}/${file}` }) };
    }
    const remote = remoteConfigFile(ev);
    if (!remote) return local ?? { status: 'skip', summary: t('doctor.config.notProbed', { path: path ?? file }) };
    if (!remote.exists) {
      return { status: 'fail', summary: t('doctor.config.remoteAbsent', { path: remote.path }), evidence: [`${remote.path}: absent`], fix: local?.fix ?? pushFix };
    }
    if (!remote.regular || !remote.readable || remote.text === undefined) {
      return { status: 'fail', summary: t('doctor.config.unreadable', { path: remote.path }), evidence: [`${remote.path}: ${remote.regular ? `mode ${remote.mode ?? '?'}, unreadable` : 'not a regular file'}`], fix: local?.fix ?? pushFix };
    }
    if (local) return local;
    const check = checkConfigText(remote.text, ev.project.runtime);
    if (!check.ok) {
      return {
        status: 'warn',
        summary: t('doctor.config.schemaProblems', { path: remote.path }),
        evidence: check.problems.slice(0, 5).map((p) => formatProblem(p, remote.path)),
        fix: pushFix,
      };
    }
    return { status: 'ok', summary: t('doctor.config.remoteValid', { path: remote.path, bytes: remote.bytes ?? '?', mode: remote.mode ?? '?' }) };
  },
  fixKind: (ev) => (ev.localConfig?.ok ? 'config-push' : undefined),
};

export const workspaceCheck: Check = {
  id: 'workspace',
  title: 'agent workspace on the volume',
  run(ev) {
    const { value, source } = effectiveConfig(ev);
    if (!value) return { status: 'skip', summary: ev.offline ? t('doctor.workspace.noConfigOffline', { file: ev.project.runtime.configFileName }) : t('doctor.workspace.noConfig') };
    const ws = (value['agents'] as { defaults?: { workspace?: unknown } } | undefined)?.defaults?.workspace;
    let mount = ev.project.fly.mountDestination;
    if (!ev.offline && ev.machine) mount = ev.machine.config?.mounts?.[0]?.path ?? undefined;
    if (typeof ws !== 'string' || !ws) {
      return {
        status: 'fail',
        summary: t('doctor.workspace.unset', { dir: DEFAULT_WORKSPACE }),
        evidence: [`${source}: agents.defaults.workspace is not set`],
        fix: t('doctor.workspace.fix', { workspace: `${mount ?? STATE_DIR}/${WORKSPACE_SUBDIR}`, file: ev.project.runtime.configFileName, doesBoth: t('doctor.doesBoth') }),
      };
    }
    if (!mount) return { status: 'skip', summary: t('doctor.workspace.noMount', { workspace: ws }) };
    if (!isInside(ws, mount)) {
      return {
        status: 'fail',
        summary: t('doctor.workspace.outside', { workspace: ws, mount }),
        evidence: [`${source}: agents.defaults.workspace = "${ws}"`, `volume mounted at ${mount}`],
        fix: t('doctor.workspace.fix', { workspace: `${mount}/workspace`, file: ev.project.runtime.configFileName, doesBoth: t('doctor.doesBoth') }),
      };
    }
    return { status: 'ok', summary: t('doctor.workspace.ok', { workspace: ws }) };
  },
  fixKind: (ev) => (ev.localConfig?.ok ? 'config-push' : undefined),
};
