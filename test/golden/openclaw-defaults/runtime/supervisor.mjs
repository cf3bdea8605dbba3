// clawdfly: the image's process manager. entrypoint.sh execs into it once the volume is prepared;
// it starts the gateway as its child and keeps three promises:
//  - Fly's stop signal (SIGTERM/SIGINT) reaches the gateway, which shuts down cleanly, and this
//    process exits with the gateway's own exit code (128 + signal when it was killed);
//  - a watchdog polls the gateway's liveness endpoint on localhost. Once the gateway has answered
//    once (start-up never counts), N failed checks in a row, `interval` apart, mean it is frozen:
//    one line says why, SIGTERM (SIGKILL after a grace), exit 70, and Fly restarts the machine
//    (fly.toml [[restart]] policy = "always"). A gateway that freezes stays up otherwise: Fly only
//    restarts a machine whose main process exits;
//  - the watchdog never fires while the config was just changed (the gateway hot-reloads it) or
//    while a hold file says that a backup or restore holds the gateway stopped.
// More processes can be supervised beside the gateway (`--sidecar`, e.g. a scheduled backup
// uploader): each is restarted with a backoff when it exits and stopped with the gateway.
// Same file for every runtime row: what differs comes as arguments from entrypoint.sh.
// Settings ([env] in fly.toml): CLAWDFLY_WATCHDOG=off turns the watchdog off;
// CLAWDFLY_WATCHDOG_INTERVAL (20s), _FAILURES (3), _TIMEOUT (5s), _KILL_GRACE (10s),
// _RELOAD_GRACE (60s), _HOLD_MAX (30m), _VERBOSE=1 logs every check.
import { spawn } from 'node:child_process';
import { lstatSync, openSync, readSync, closeSync, constants as fsConstants } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

/** The exit code after a watchdog restart: what doctor and status find in Fly's exit events. */
export const WATCHDOG_EXIT_CODE = 70;
export const DEFAULT_SETTINGS = Object.freeze({
  enabled: true,
  intervalMs: 20_000,
  failures: 3,
  timeoutMs: 5_000,
  killGraceMs: 10_000,
  reloadGraceMs: 60_000,
  holdMaxMs: 30 * 60_000,
  verbose: false,
});

const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGTERM: 15 };
/** Signals passed on to the gateway: Fly's stop signals, and the ones the gateway itself listens to. */
const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];
const STOPPING = ['SIGTERM', 'SIGINT'];

const defaultLog = (message) => console.log(`[clawdfly] ${message}`);
const clean = (text, max = 120) => String(text).replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, max);
const seconds = (ms) => (ms % 1000 === 0 ? `${ms / 1000} s` : ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `20`, `20s`, `1.5s`, `500ms`, `2m` → milliseconds; a bare number is seconds. */
export function parseDuration(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/i.exec(String(text));
  if (!m) return undefined;
  const unit = (m[2] || 's').toLowerCase();
  return Math.round(Number(m[1]) * (unit === 'ms' ? 1 : unit === 'm' ? 60_000 : 1000));
}

/** The watchdog's settings from the environment; a bad value is logged and the default kept. */
export function readSettings(env = process.env, log = defaultLog) {
  const settings = { ...DEFAULT_SETTINGS };
  const flag = (env.CLAWDFLY_WATCHDOG ?? '').trim().toLowerCase();
  if (['off', '0', 'false', 'no', 'disabled'].includes(flag)) settings.enabled = false;
  else if (flag && !['on', '1', 'true', 'yes', 'enabled'].includes(flag)) log(`watchdog: CLAWDFLY_WATCHDOG=${clean(flag, 20)} is neither on nor off: on`);
  const durations = { intervalMs: 'INTERVAL', timeoutMs: 'TIMEOUT', killGraceMs: 'KILL_GRACE', reloadGraceMs: 'RELOAD_GRACE', holdMaxMs: 'HOLD_MAX' };
  for (const [key, suffix] of Object.entries(durations)) {
    const raw = env[`CLAWDFLY_WATCHDOG_${suffix}`];
    if (raw === undefined || raw === '') continue;
    const ms = parseDuration(raw);
    if (ms === undefined || (ms <= 0 && key !== 'reloadGraceMs')) log(`watchdog: CLAWDFLY_WATCHDOG_${suffix}=${clean(raw, 20)} is not a duration like 20s: ${seconds(settings[key])}`);
    else settings[key] = ms;
  }
  const failures = env.CLAWDFLY_WATCHDOG_FAILURES;
  if (failures !== undefined && failures !== '') {
    if (/^\s*\d+\s*$/.test(failures) && Number(failures) >= 1) settings.failures = Number(failures);
    else log(`watchdog: CLAWDFLY_WATCHDOG_FAILURES=${clean(failures, 20)} is not a whole number ≥ 1: ${settings.failures}`);
  }
  settings.verbose = ['1', 'true', 'yes', 'on'].includes((env.CLAWDFLY_WATCHDOG_VERBOSE ?? '').trim().toLowerCase());
  return settings;
}

/**
 * A liveness check over HTTP on localhost: `accept` 'ok' wants a 2xx answer (openclaw's /healthz),
 * 'any' any HTTP answer (a gateway without a health endpoint still answers GET / when alive). A TCP
 * connect alone proves nothing: the kernel accepts connections for a frozen process too.
 */
export function httpProbe({ host = '127.0.0.1', port, path, accept = 'ok' }) {
  const what = `GET ${path} on port ${port}`;
  const check = (timeoutMs) =>
    new Promise((resolve) => {
      let settled = false;
      const finish = (ok, answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve({ ok, answer: clean(answer) });
      };
      const timer = setTimeout(() => finish(false, `no answer within ${seconds(timeoutMs)}`), timeoutMs);
      const req = request({ host, port, path, method: 'GET', agent: false, headers: { 'user-agent': 'clawdfly-watchdog' } }, (res) => {
        const status = res.statusCode ?? 0;
        const ok = accept === 'any' ? status > 0 : status >= 200 && status < 300;
        if (accept === 'any') return finish(ok, `HTTP ${status}`);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
          if (body.length > 200) finish(ok, `HTTP ${status} ${body}`);
        });
        res.on('end', () => finish(ok, `HTTP ${status} ${body}`));
        res.on('error', (error) => finish(false, `HTTP ${status}, then ${error.code || error.message}`));
      });
      req.on('error', (error) => finish(false, error.code === 'ECONNREFUSED' ? 'connection refused' : error.code || error.message));
      req.end();
    });
  return { what, check };
}

/**
 * Why the gateway is held (a backup or restore stopped it on purpose), or undefined. The file is
 * read, never followed (lstat: a link is no hold), and its text is only shown; a hold older than
 * `holdMaxMs` is ignored, so a forgotten one cannot turn the watchdog off for good.
 */
export function readHold(file, holdMaxMs, now = Date.now()) {
  if (!file) return undefined;
  let stat;
  try {
    stat = lstatSync(file);
  } catch {
    return undefined;
  }
  if (!stat.isFile()) return undefined;
  if (now - stat.mtimeMs > holdMaxMs) return { stale: true, reason: `older than ${seconds(holdMaxMs)}` };
  let reason = '';
  try {
    const fd = openSync(file, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0));
    try {
      const buffer = Buffer.alloc(200);
      reason = buffer.subarray(0, readSync(fd, buffer, 0, 200, 0)).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    reason = '';
  }
  return { stale: false, reason: clean(reason, 80) || 'no reason given' };
}

function mtimeOf(file) {
  if (!file) return undefined;
  try {
    return lstatSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** One supervised process: started, signalled, waited for. */
class Child {
  constructor(name, argv, options) {
    this.name = name;
    this.argv = argv;
    this.options = options;
    this.process = undefined;
    this.exited = undefined;
  }
  start() {
    const [command, ...args] = this.argv;
    const child = spawn(command, args, { stdio: 'inherit', ...this.options });
    this.process = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (error) => resolve({ code: 127, signal: null, error }));
    });
    return this.exited;
  }
  get pid() {
    return this.process?.pid;
  }
  signal(name) {
    try {
      return this.process?.kill(name) ?? false;
    } catch {
      return false;
    }
  }
  get running() {
    return Boolean(this.process) && this.process.exitCode === null && this.process.signalCode === null;
  }
}

/** The exit code a shell would report for this end: the code, or 128 + the signal's number. */
export function exitCodeOf({ code, signal }) {
  if (typeof code === 'number') return code;
  return 128 + (SIGNAL_NUMBERS[signal] ?? 1);
}

/**
 * The watchdog over one child. `run()` resolves when it fired (after the child is gone) or stopped.
 * Every window is a parameter: tests run it with milliseconds.
 */
export class Watchdog {
  constructor({ child, probe, settings, log = defaultLog, holdFile, configFile, label = 'the gateway' }) {
    Object.assign(this, { child, probe, settings, log, holdFile, configFile, label });
    this.stopped = false;
    this.armed = false;
    this.failures = 0;
    this.firstFailureAt = undefined;
    this.lastAnswer = undefined;
    this.quietUntil = 0;
    this.configMtime = mtimeOf(configFile);
    this.held = undefined;
    this.wake = undefined;
    this.firing = false;
  }

  stop() {
    this.stopped = true;
    this.wake?.();
  }

  async pause(ms) {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }

  /** True while a check must not count: held, or the config changed a moment ago. */
  quiet(now) {
    const hold = readHold(this.holdFile, this.settings.holdMaxMs, now);
    const key = hold ? `${hold.stale}:${hold.reason}` : undefined;
    if (key !== this.held) {
      if (hold?.stale) this.log(`watchdog: ignoring ${this.holdFile}: ${hold.reason} (a backup or restore that ended without removing it)`);
      else if (hold) this.log(`watchdog: on hold (${hold.reason}; ${this.holdFile}): not checking ${this.label} until it is removed`);
      else if (this.held !== undefined) this.log(`watchdog: hold released: checking ${this.label} again`);
      this.held = key;
    }
    if (hold && !hold.stale) {
      if (this.settings.verbose) this.log('watchdog: held, not checking');
      this.reset();
      return true;
    }
    const mtime = mtimeOf(this.configFile);
    if (mtime !== this.configMtime) {
      this.configMtime = mtime;
      this.quietUntil = now + this.settings.reloadGraceMs;
      this.reset();
      if (this.armed) this.log(`watchdog: ${this.configFile} changed: failed checks do not count for ${seconds(this.settings.reloadGraceMs)} (config reload)`);
    }
    return false;
  }

  reset() {
    this.failures = 0;
    this.firstFailureAt = undefined;
  }

  async run() {
    const { intervalMs, failures: limit, timeoutMs, verbose } = this.settings;
    while (!this.stopped) {
      if (this.quiet(Date.now())) {
        await this.pause(intervalMs);
        continue;
      }
      const startedAt = Date.now();
      const result = await this.probe.check(timeoutMs);
      if (this.stopped) return { fired: false };
      // a hold or a config change that came while the check waited: this answer does not count
      if (this.quiet(Date.now())) continue;
      this.lastAnswer = result.answer;
      if (result.ok) {
        if (!this.armed) {
          this.armed = true;
          this.log(`watchdog: armed: ${this.probe.what} answered (${result.answer}); ${limit} failed checks in a row, ${seconds(intervalMs)} apart, restart ${this.label}`);
        } else if (this.failures > 0) {
          this.log(`watchdog: ${this.label} answers again (${result.answer}) after ${this.failures} failed check(s)`);
        } else if (verbose) {
          this.log(`watchdog: check ok (${result.answer})`);
        }
        this.reset();
      } else if (!this.armed) {
        if (verbose) this.log(`watchdog: starting up, not counted: ${this.probe.what}: ${result.answer}`);
      } else if (startedAt < this.quietUntil) {
        this.log(`watchdog: check failed during a config reload, not counted: ${this.probe.what}: ${result.answer}`);
      } else {
        this.failures += 1;
        this.firstFailureAt ??= startedAt;
        if (this.failures >= limit) {
          await this.fire(Date.now() - this.firstFailureAt, result.answer);
          return { fired: true };
        }
        this.log(`watchdog: check ${this.failures}/${limit} failed: ${this.probe.what}: ${result.answer}`);
      }
      // until the first answer, look more often: the watchdog arms soon after the gateway listens
      await this.pause(this.armed ? intervalMs : Math.min(intervalMs, 2000));
    }
    return { fired: false };
  }

  /** One line saying why, SIGTERM (and SIGCONT, so a stopped process can act on it), SIGKILL after the grace. */
  async fire(spanMs, answer) {
    this.firing = true;
    const pid = this.child.pid;
    const grace = this.settings.killGraceMs;
    this.log(
      `watchdog: restarting ${this.label}: ${this.failures} health checks failed in a row over ${Math.round(spanMs / 1000)} s ` +
        `(${this.probe.what}; last answer: ${answer}); SIGTERM to pid ${pid}, SIGKILL after ${seconds(grace)}`,
    );
    this.child.signal('SIGTERM');
    this.child.signal('SIGCONT');
    const ended = await Promise.race([this.child.exited, sleep(grace).then(() => undefined)]);
    if (ended) {
      this.log(`watchdog: ${this.label} (pid ${pid}) stopped after SIGTERM (${ended.signal ?? `exit ${ended.code}`}); exiting ${WATCHDOG_EXIT_CODE} so the machine restarts`);
      return;
    }
    this.child.signal('SIGKILL');
    const killed = await this.child.exited;
    this.log(`watchdog: ${this.label} (pid ${pid}) did not stop within ${seconds(grace)}: killed (${killed.signal ?? `exit ${killed.code}`}); exiting ${WATCHDOG_EXIT_CODE} so the machine restarts`);
  }
}

/**
 * A process beside the gateway (e.g. a scheduled backup uploader): restarted after it exits, with a
 * doubling delay (1 s … 5 min, back to 1 s after a minute of running); stopped with the gateway.
 */
class Sidecar {
  constructor(name, argv, options, log) {
    Object.assign(this, { name, argv, options, log });
    this.child = undefined;
    this.stopping = false;
    this.delayMs = 1000;
    this.timer = undefined;
  }
  start() {
    if (this.stopping) return;
    const child = new Child(this.name, this.argv, this.options);
    this.child = child;
    const startedAt = Date.now();
    child.start().then((end) => {
      if (this.stopping) return;
      if (Date.now() - startedAt > 60_000) this.delayMs = 1000;
      this.log(`${this.name} exited (${end.signal ?? `exit ${end.code}`}); starting it again in ${seconds(this.delayMs)}`);
      this.timer = setTimeout(() => this.start(), this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, 5 * 60_000);
    });
  }
  async stop(signal, graceMs) {
    this.stopping = true;
    clearTimeout(this.timer);
    const child = this.child;
    if (!child?.running) return;
    child.signal(signal);
    const ended = await Promise.race([child.exited, sleep(graceMs).then(() => undefined)]);
    if (!ended) {
      child.signal('SIGKILL');
      await child.exited;
    }
  }
}

/**
 * Runs the gateway (and any sidecars) to the end. Resolves with the exit code this process should
 * end with: the gateway's own, or WATCHDOG_EXIT_CODE when the watchdog restarted it.
 */
export async function supervise({ argv, sidecars = [], probe, settings, holdFile, configFile, log = defaultLog, env = process.env, cwd = process.cwd(), signals = process }) {
  const gateway = new Child('gateway', argv, { env, cwd });
  const helpers = sidecars.map((s) => new Sidecar(s.name, s.argv, { env, cwd }, log));
  let stopSignal;
  let watchdog;
  const onSignal = (name) => {
    if (STOPPING.includes(name)) {
      stopSignal = name;
      watchdog?.stop();
    }
    gateway.signal(name);
  };
  const handlers = FORWARDED.map((name) => {
    const handler = () => onSignal(name);
    signals.on(name, handler);
    return [name, handler];
  });
  const ended = gateway.start();
  for (const helper of helpers) helper.start();
  watchdog = settings.enabled && probe ? new Watchdog({ child: gateway, probe, settings, log, holdFile, configFile }) : undefined;
  if (!settings.enabled) log('watchdog: off (CLAWDFLY_WATCHDOG=off): a frozen gateway is not restarted');
  const watched = watchdog ? watchdog.run() : new Promise(() => {});
  let first = await Promise.race([ended.then((end) => ({ end })), watched.then((outcome) => ({ outcome }))]);
  // the watchdog's own SIGTERM ended the gateway: its verdict, not the gateway's exit code, decides
  if (first.end && watchdog?.firing) first = { outcome: await watched };
  let code;
  if (first.outcome?.fired) {
    code = WATCHDOG_EXIT_CODE;
  } else {
    const end = first.end ?? (await ended);
    watchdog?.stop();
    if (end.error) log(`could not start the gateway (${clean(end.error.message)})`);
    else if (!stopSignal) log(`the gateway exited (${end.signal ?? `exit ${end.code}`})`);
    code = exitCodeOf(end);
  }
  for (const helper of helpers) await helper.stop(stopSignal ?? 'SIGTERM', settings.killGraceMs);
  for (const [name, handler] of handlers) signals.off(name, handler);
  return code;
}

/** The gateway's port: `--port N` on its command line, else the port variable, else the default. */
export function gatewayPort(argv, env, portEnv, defaultPort) {
  for (let i = 0; i < argv.length; i++) {
    const m = /^--port(?:=(\d+))?$/.exec(argv[i]);
    if (m) return Number(m[1] ?? argv[i + 1]);
  }
  const fromEnv = Number(env[portEnv]);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : defaultPort;
}

/**
 * `supervisor.mjs [--health-path P] [--health-accept ok|any] [--port-env NAME] [--default-port N]
 *  [--config FILE] [--hold-file FILE] [--sidecar NAME=COMMAND…] -- gateway argv…`
 */
export function parseArgs(args) {
  const split = args.indexOf('--');
  if (split < 0 || split === args.length - 1) throw new Error('usage: supervisor.mjs [options] -- <command> [args…]');
  const options = { healthPath: undefined, healthAccept: 'ok', portEnv: '', defaultPort: 18789, configFile: undefined, holdFile: undefined, sidecars: [] };
  const words = args.slice(0, split);
  for (let i = 0; i < words.length; i += 2) {
    const [flag, value] = [words[i], words[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--health-path') options.healthPath = value;
    else if (flag === '--health-accept') options.healthAccept = value === 'any' ? 'any' : 'ok';
    else if (flag === '--port-env') options.portEnv = value;
    else if (flag === '--default-port') options.defaultPort = Number(value);
    else if (flag === '--config') options.configFile = value;
    else if (flag === '--hold-file') options.holdFile = value;
    else if (flag === '--sidecar') {
      const eq = value.indexOf('=');
      if (eq < 1) throw new Error('--sidecar takes NAME=COMMAND');
      options.sidecars.push({ name: value.slice(0, eq), argv: value.slice(eq + 1).trim().split(/\s+/) });
    } else throw new Error(`unknown option ${flag}`);
  }
  return { options, argv: args.slice(split + 1) };
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`[clawdfly] supervisor: ${error.message}`);
    process.exit(2);
  }
  const { options, argv } = parsed;
  const settings = readSettings(process.env);
  const port = gatewayPort(argv, process.env, options.portEnv, options.defaultPort);
  const probe = options.healthPath ? httpProbe({ port, path: options.healthPath, accept: options.healthAccept }) : undefined;
  const code = await supervise({ argv, sidecars: options.sidecars, probe, settings, holdFile: options.holdFile, configFile: options.configFile });
  process.stdout.write('', () => process.exit(code));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error) => {
    console.error(`[clawdfly] supervisor failed: ${error && error.stack ? error.stack : error}`);
    process.exit(1);
  });
}
