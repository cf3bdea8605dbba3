/**
 * watchdog: what the image's watchdog did (templates/runtime/supervisor.mjs). Each restart of a
 * frozen gateway is named with its time and the last health answer; several since the config last
 * changed point to memory (a gateway freezes under heap pressure), with the memory check's fix.
 */
import { configLines, crashExits } from '../evidence.js';
import type { Check, Evidence } from '../types.js';
import { parseWatchdogRestart, watchdogEnabled, WATCHDOG_ENV, WATCHDOG_EXIT_CODE, WATCHDOG_MEMORY_RESTARTS, type WatchdogRestart } from '../../gateway/watchdog.js';
import { isResult, logEvidence, needMachine } from './common.js';

export interface WatchdogEvent extends WatchdogRestart {
  /** When it fired (the log line's time), ms since the epoch. */
  at?: number;
}

/** The watchdog's restarts since the machine's config last changed, oldest first. */
export function watchdogRestarts(ev: Evidence): WatchdogEvent[] {
  if (ev.offline || !ev.machine) return [];
  return configLines(ev).flatMap((l) => {
    const restart = parseWatchdogRestart(l.message);
    return restart ? [{ ...restart, at: l.at }] : [];
  });
}

/** Exit events with the watchdog's code (when the log buffer no longer has its lines). */
function watchdogExits(ev: Evidence): { at: number }[] {
  return crashExits(ev.machine).filter((e) => e.code === WATCHDOG_EXIT_CODE);
}

/** Several restarts since the config changed: a gateway that keeps freezing is short of memory. */
export function watchdogPointsToMemory(ev: Evidence): boolean {
  return Math.max(watchdogRestarts(ev).length, watchdogExits(ev).length) >= WATCHDOG_MEMORY_RESTARTS;
}

const when = (at: number | undefined) => (at === undefined ? 'at an unknown time' : new Date(at).toISOString());

export function describeRestart(r: WatchdogEvent): string {
  return `${when(r.at)}: ${r.failures} health checks failed in a row over ${r.seconds} s (${r.check}; last answer: ${r.lastAnswer})`;
}

export const watchdogCheck: Check = {
  id: 'watchdog',
  title: 'no frozen gateway (watchdog restarts)',
  run(ev) {
    const env = ev.project.fly.env;
    const off = !watchdogEnabled(env);
    const offNote = off ? `; the watchdog is off (fly.toml ${WATCHDOG_ENV.switch} = "${env[WATCHDOG_ENV.switch]}"): a frozen gateway stays frozen` : '';
    if (ev.offline) return off ? { status: 'warn', summary: offNote.slice(2), fix: `fly.toml [env] ${WATCHDOG_ENV.switch} = "on", then: clawdfly deploy` } : { status: 'ok', summary: 'on (fly.toml [env])' };
    const m = needMachine(ev);
    if (isResult(m)) return m;
    const restarts = watchdogRestarts(ev);
    const exits = watchdogExits(ev);
    const count = Math.max(restarts.length, exits.length);
    if (count === 0) return { status: off ? 'warn' : 'ok', summary: `no watchdog restart since the machine's config last changed${offNote}` };
    const evidence = [
      ...restarts.slice(-5).map((r) => `watchdog restart at ${describeRestart(r)}`),
      ...(restarts.length ? [] : exits.slice(0, 5).map((e) => `exit event: exit_code=${WATCHDOG_EXIT_CODE} (the watchdog restarted the gateway) at ${when(e.at)}; its log lines are no longer in the buffer`)),
      ...restarts.slice(-2).map((r) => logEvidence(r.line)),
    ];
    const last = restarts.at(-1);
    const lastText = last ? `, last ${describeRestart(last)}` : '';
    if (count >= WATCHDOG_MEMORY_RESTARTS) {
      return {
        status: 'fail',
        summary: `the watchdog restarted a frozen gateway ${count}× since the config last changed${lastText}: a gateway that keeps freezing is short of memory (heap pressure), as before an OOM`,
        evidence,
        fix: 'give it more memory: see the memory check (clawdfly doctor --fix raises it)',
      };
    }
    return {
      status: 'warn',
      summary: `the watchdog restarted a frozen gateway 1×${lastText}`,
      evidence,
      fix: 'clawdfly logs (what the gateway said before it stopped answering); more restarts in a row point to memory',
    };
  },
};
