/**
 * signal-data (Signal image variant): signal-cli keeps the linked account where its `--config`
 * points. The image's wrapper (Dockerfile) pins it to the volume; the gateway must call that
 * wrapper (channels.signal.cliPath), or signal-cli falls back to ~/.local/share on the container's
 * disk and the link is lost on the next restart.
 */
import { t } from '../../i18n/index.js';
import { SIGNAL_CLI_PATH, SIGNAL_DATA_SUBDIR } from '../../gateway/runtime.js';
import { isInside, localConfigValue } from '../evidence.js';
import type { Check, CheckResult } from '../types.js';
import { isResult, needMachine } from './common.js';

/** `--config <dir>` of the wrapper the Dockerfile writes to SIGNAL_CLI_PATH (undefined when there is none). */
export function wrapperConfigDir(dockerfile: string | undefined): string | undefined {
  if (!dockerfile || !dockerfile.includes(`> ${SIGNAL_CLI_PATH}`)) return undefined;
  return /bin\/signal-cli --config (\/\S+) "\$@"/.exec(dockerfile)?.[1];
}

export const signalDataCheck: Check = {
  id: 'signal-data',
  title: "signal-cli's account on the volume",
  run(ev) {
    const project = ev.project;
    if (project.answers?.signal !== true) return { status: 'skip', summary: t('doctor.signal.notSignal') };
    const mount = project.fly.mountDestination;
    const wanted = `${mount ?? project.stateDir}/${SIGNAL_DATA_SUBDIR}`;
    const fix = `keep the Dockerfile's wrapper \`exec …/bin/signal-cli --config ${wanted} "$@"\` > ${SIGNAL_CLI_PATH} and channels.signal.cliPath = "${SIGNAL_CLI_PATH}", then clawdfly deploy (and clawdfly channels login signal again)`;
    const dir = wrapperConfigDir(ev.dockerfileText);
    if (!dir) return lost(t('doctor.signal.noWrapper', { path: SIGNAL_CLI_PATH }), ['Dockerfile: no `signal-cli --config <dir> "$@"` wrapper'], fix);
    if (!isInside(dir, mount)) {
      return lost(t('doctor.signal.wrapperOutside', { dir, mount: mount ?? 'no [mounts]' }), [`Dockerfile wrapper: --config ${dir}; fly.toml [mounts] destination = ${mount ? `"${mount}"` : '(none)'}`], fix);
    }
    const signal = (localConfigValue(project)?.['channels'] as Record<string, Record<string, unknown>> | undefined)?.['signal'];
    const cliPath = typeof signal?.['cliPath'] === 'string' ? signal['cliPath'] : undefined;
    if (cliPath !== SIGNAL_CLI_PATH) {
      return lost(
        t('doctor.signal.notWrapper', { cli: cliPath ?? 'signal-cli from PATH' }),
        [`${project.runtime.configFileName}: channels.signal.cliPath = ${cliPath ? `"${cliPath}"` : '(unset)'}`],
        fix,
      );
    }
    if (!ev.offline) {
      const m = needMachine(ev);
      if (isResult(m)) return m;
      const machineMount = m.config?.mounts?.[0]?.path;
      if (!isInside(dir, machineMount)) {
        return lost(t('doctor.signal.machineNoVolume', { machine: m.id, volume: machineMount ? `its volume at ${machineMount}` : 'no volume', dir }), [`machine ${m.id} mounts[0].path = ${machineMount ? `"${machineMount}"` : '(none)'}`], fix);
      }
    }
    return { status: 'ok', summary: t('doctor.signal.ok', { dir }) };
  },
};

function lost(why: string, evidence: string[], fix: string): CheckResult {
  return { status: 'fail', summary: t('doctor.signal.lost', { why }), evidence, fix };
}

