/** Small helpers shared by the checks: skip reasons, quoting, fly.toml facts. */
import { t } from '../../i18n/index.js';
import type { Machine } from '../../fly/json.js';
import { quoteWord, remoteCommand } from '../../fly/quote.js';
import { splitCommand } from '../../project/flytoml-edit.js';
import type { CheckResult, Evidence, Probe } from '../types.js';

/** The skip of a check that needs flyctl (a function: the text is in the language chosen at run time). */
export const offlineSkip = (): CheckResult => ({ status: 'skip', summary: t('doctor.skip.offline') });

/** Why a probe's evidence is missing, as a skip result; undefined when the probe has a value. */
export function missing(ev: Evidence, probe: Probe<unknown> | undefined, what: string): CheckResult | undefined {
  if (ev.offline) return offlineSkip();
  if (!ev.flyctl?.ok && ev.flyctl?.code === 'flyctl-missing') return { status: 'skip', summary: t('doctor.skip.noFlyctl') };
  if (!probe) return { status: 'skip', summary: t('doctor.skip.noEvidence', { what }) };
  if (!probe.ok) {
    if (probe.code === 'not-logged-in') return { status: 'skip', summary: t('doctor.skip.notLoggedIn') };
    if (probe.code === 'app-not-found') return { status: 'skip', summary: t('doctor.skip.noApp') };
    if (probe.code === 'no-started-machine') return { status: 'skip', summary: t('doctor.skip.noStartedMachine', { what }) };
    return { status: 'skip', summary: t('doctor.skip.couldNotRead', { what, error: probe.error ?? '' }) };
  }
  return undefined;
}

/** Skip unless there is a machine to judge. */
export function needMachine(ev: Evidence): CheckResult | Machine {
  const skip = missing(ev, ev.machines, 'the machine list');
  if (skip) return skip;
  if (!ev.machine) return { status: 'skip', summary: t('doctor.skip.noMachine') };
  return ev.machine;
}

export function isResult(x: unknown): x is CheckResult {
  return typeof x === 'object' && x !== null && 'status' in x && 'summary' in x;
}

export const q = (text: string): string => `"${text}"`;

/** A log line as evidence. */
export const logEvidence = (line: string): string => `log: ${line}`;

export function tomlCmd(ev: Evidence): string[] | undefined {
  const text = ev.project.fly.processCommand;
  return text === undefined ? undefined : splitCommand(text);
}

export function cmdText(cmd: string[] | undefined): string {
  return cmd?.length ? cmd.join(' ') : '(the image CMD)';
}

/** The app name as a word of a printed command (quoted when the shell would split or expand it). */
export function app(ev: Evidence): string {
  return quoteWord(ev.project.app);
}

/** A command line to print as a hint: every word shell-quoted, so pasting it runs exactly that. */
export function shellLine(argv: string[]): string {
  return argv.map(quoteWord).join(' ');
}

/**
 * `fly ssh console -a <app> -C <remote argv>` to print: the remote argv is quoted for the machine's
 * split, and that one string again for the operator's shell (a path or id read from the machine
 * must never run anything on the operator's laptop).
 */
export function sshHint(ev: Evidence, remoteArgv: string[], user?: string): string {
  return shellLine(['fly', 'ssh', 'console', '-a', ev.project.app, ...(user ? ['--user', user] : []), '-C', remoteCommand(remoteArgv)]);
}
