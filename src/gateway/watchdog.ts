/**
 * The image's watchdog (templates/runtime/supervisor.mjs), as the CLI sees it: its settings in
 * fly.toml [env], the exit code Fly records after it restarted a frozen gateway, the hold file a
 * backup or restore sets while it holds the gateway stopped, and its log lines, which doctor reads.
 * The supervisor is a plain script in the image and cannot import this: test/watchdog/ checks
 * that both say the same (exit code, lines).
 */
import { stripVTControlCharacters } from 'node:util';
import { STATE_DIR, TMP_SUBDIR } from './runtime.js';

/** What the supervisor exits with after a watchdog restart (Fly's exit event, then `[[restart]]`). */
export const WATCHDOG_EXIT_CODE = 70;

/** fly.toml [env] names and the defaults the supervisor uses when they are unset. */
export const WATCHDOG_ENV = {
  switch: 'CLAWDFLY_WATCHDOG',
  interval: 'CLAWDFLY_WATCHDOG_INTERVAL',
  failures: 'CLAWDFLY_WATCHDOG_FAILURES',
  timeout: 'CLAWDFLY_WATCHDOG_TIMEOUT',
  killGrace: 'CLAWDFLY_WATCHDOG_KILL_GRACE',
} as const;
export const WATCHDOG_DEFAULTS = { intervalSeconds: 20, failures: 3, timeoutSeconds: 5, killGraceSeconds: 10 } as const;

/**
 * While this file exists (and is younger than 30 min), the watchdog does not check: a backup or
 * restore that stops the gateway on purpose writes its reason into it and removes it after. It is
 * under TMPDIR on the volume, which backups leave out and restores leave in place.
 */
export const WATCHDOG_HOLD_FILE = `${STATE_DIR}/${TMP_SUBDIR}/clawdfly-watchdog.hold`;

/** The watchdog is on unless fly.toml [env] turns it off. */
export function watchdogEnabled(env: Record<string, string>): boolean {
  return !['off', '0', 'false', 'no', 'disabled'].includes((env[WATCHDOG_ENV.switch] ?? '').trim().toLowerCase());
}

export interface WatchdogRestart {
  /** Failed checks in a row, and over how many seconds. */
  failures: number;
  seconds: number;
  /** The check, e.g. `GET /healthz on port 3000`. */
  check: string;
  /** The last health answer (`no answer within 5 s`, `HTTP 503 …`, `connection refused`). */
  lastAnswer: string;
  pid?: number;
  line: string;
}

// `[clawdfly] watchdog: restarting the gateway: 3 health checks failed in a row over 47 s
//  (GET /healthz on port 3000; last answer: no answer within 5 s); SIGTERM to pid 23, SIGKILL after 10 s`
const RESTART = /\[clawdfly\] watchdog: restarting the gateway: (\d+) health checks failed in a row over (\d+) s \((.+?); last answer: (.*)\); SIGTERM to pid (\d+|undefined)/;

/** A watchdog restart line, or undefined. */
export function parseWatchdogRestart(message: string): WatchdogRestart | undefined {
  const line = stripVTControlCharacters(message).trim();
  const m = RESTART.exec(line);
  if (!m) return undefined;
  const pid = Number(m[5]);
  return { failures: Number(m[1]), seconds: Number(m[2]), check: m[3]!, lastAnswer: m[4]!, pid: Number.isInteger(pid) ? pid : undefined, line };
}

/** Restarts in a row, since the config last changed, from which the cause is memory (as for an OOM). */
export const WATCHDOG_MEMORY_RESTARTS = 2;
