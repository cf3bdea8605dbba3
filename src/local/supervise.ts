/**
 * Runs a gateway in the foreground, whichever engine: streams its log lines (redacted, through
 * out.*), announces the Control UI when the gateway logs its listening line, turns Ctrl-C / SIGTERM /
 * SIGHUP into one clean stop (a second Ctrl-C forces it), and explains an early exit from the
 * gateway's own log lines.
 */
import type { ChildProcess } from '../util/process.js';
import { ClawdflyError } from '../errors.js';
import { classifyLines, type LogFinding } from '../gateway/logs.js';
import type { GatewayRuntime } from '../gateway/runtime.js';
import { out } from '../ui/output.js';

export interface SuperviseOptions {
  /** The process whose stdout+stderr are the gateway's log (the gateway, or `podman logs -f`). */
  child: ChildProcess;
  /** Asks the gateway to stop (forward the signal / `podman stop`); `force` after a second signal. */
  stop: (signal: NodeJS.Signals, force: boolean) => void | Promise<void>;
  /** The gateway's exit once `child` has ended (its exit code, or the container's). */
  exitStatus: (child: { code: number | null; signal: NodeJS.Signals | null }) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Called once, with the `listening` line. */
  onListening: (finding: Extract<LogFinding, { kind: 'listening' }>, elapsedMs: number) => void;
  /** Max ms from start to `listening` before giving up (0 = wait forever). */
  bootTimeoutMs?: number;
}

export interface SuperviseResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  listened: boolean;
  /** The signal the user sent (the stop was asked for). */
  stopRequested?: NodeJS.Signals;
  /** ms from start to the listening line. */
  bootMs?: number;
  lines: string[];
}

const KEEP_LINES = 400;

export async function supervise(opts: SuperviseOptions): Promise<SuperviseResult> {
  const started = Date.now();
  const lines: string[] = [];
  let listened = false;
  let bootMs: number | undefined;
  let stopRequested: NodeJS.Signals | undefined;
  let forced = false;

  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > KEEP_LINES) lines.shift();
    out.line(line);
    if (!listened) {
      const finding = classifyLines([line]).find((f) => f.kind === 'listening');
      if (finding && finding.kind === 'listening') {
        listened = true;
        bootMs = Date.now() - started;
        opts.onListening(finding, bootMs);
      }
    }
  };
  const attach = (stream: NodeJS.ReadableStream | null) => {
    if (!stream) return;
    let partial = '';
    stream.setEncoding('utf8');
    // Whole lines only: a secret split across chunks would slip past the redaction filter.
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split(/\r?\n/);
      partial = parts.pop() ?? '';
      for (const part of parts) onLine(part);
    });
    stream.on('end', () => {
      if (partial) onLine(partial);
      partial = '';
    });
  };
  attach(opts.child.stdout);
  attach(opts.child.stderr);

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested) {
      if (forced) return;
      forced = true;
      out.warn('forcing the gateway to stop');
      void Promise.resolve(opts.stop('SIGKILL', true)).catch(() => undefined);
      return;
    }
    stopRequested = signal;
    out.warn(`${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping the gateway (again to force)`);
    void Promise.resolve(opts.stop(signal, false)).catch((error: unknown) => out.warn(`could not stop it: ${(error as Error).message}`));
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);

  let bootTimer: NodeJS.Timeout | undefined;
  let timedOut = false;
  if (opts.bootTimeoutMs) {
    bootTimer = setTimeout(() => {
      if (listened || stopRequested) return;
      timedOut = true;
      out.warn(`the gateway did not log "listening" within ${Math.round(opts.bootTimeoutMs! / 1000)} s: stopping it`);
      stopRequested = 'SIGTERM';
      void Promise.resolve(opts.stop('SIGTERM', false)).catch(() => undefined);
    }, opts.bootTimeoutMs);
  }

  const childExit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    opts.child.once('error', reject);
    opts.child.once('close', (code, signal) => resolve({ code, signal }));
  }).finally(() => {
    for (const s of signals) process.removeListener(s, onSignal);
    if (bootTimer) clearTimeout(bootTimer);
  });
  const status = await opts.exitStatus(childExit);
  if (timedOut) {
    throw new ClawdflyError(`the gateway did not start listening within ${Math.round(opts.bootTimeoutMs! / 1000)} s`, {
      code: 'boot-timeout',
      hint: 'run again (later boots are warm); --verbose shows every step',
      evidence: lines.slice(-10),
    });
  }
  return { ...status, listened, stopRequested, bootMs, lines };
}

/** Turns a gateway that stopped on its own into the error that explains it (its own log lines). */
export function exitError(runtime: GatewayRuntime, result: SuperviseResult, where: { configFile: string; portFlag: string }): ClawdflyError {
  const findings = classifyLines(result.lines);
  const status = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
  const when = result.listened ? 'after it started' : 'before it listened';
  const evidenceOf = (f: LogFinding) => [f.line];
  const first = <K extends LogFinding['kind']>(kind: K) => findings.find((f) => f.kind === kind) as Extract<LogFinding, { kind: K }> | undefined;

  const lock = first('lock');
  if (lock) {
    return new ClawdflyError(`the gateway ${status}: another gateway (pid ${lock.pid}) holds this project's lock`, {
      code: 'local-lock',
      hint: `stop the other \`clawdfly up --local\` of this project (or: kill ${lock.pid})`,
      evidence: evidenceOf(lock),
    });
  }
  const port = first('port-in-use');
  if (port) return new ClawdflyError(`the gateway ${status}: its port is in use`, { code: 'local-port', hint: where.portFlag, evidence: evidenceOf(port) });
  const invalid = first('config-invalid');
  if (invalid) {
    return new ClawdflyError(`the gateway ${status}: it refuses the config in ${where.configFile}`, {
      code: 'local-config-invalid',
      hint: `fix ${where.configFile} (or delete it: the next run copies the project's ${runtime.configFileName} again)`,
      evidence: invalid.problems.length ? invalid.problems : [invalid.line],
    });
  }
  const oom = first('oom');
  if (oom || result.code === 137 || result.code === 134) {
    return new ClawdflyError(`the gateway ${status} ${when}: out of memory`, {
      code: 'local-oom',
      hint: 'raise [[vm]] memory in fly.toml (the local machine gets the same limit), or lower --max-old-space-size in NODE_OPTIONS',
      evidence: oom ? evidenceOf(oom) : result.lines.slice(-5),
    });
  }
  const crash = first('crash');
  if (crash) {
    const known = runtime.knownCrashes.find((k) => k.pattern.test(crash.line));
    return new ClawdflyError(`the gateway ${status} ${when}: ${known?.summary ?? 'an unhandled error'}`, {
      code: 'local-crash',
      hint: known?.fix ?? 'see the log lines above',
      evidence: evidenceOf(crash),
    });
  }
  const refuse = first('refuse-bind');
  if (refuse) {
    return new ClawdflyError(`the gateway ${status}: no gateway token`, {
      code: 'local-no-token',
      hint: `clawdfly init (writes ${runtime.env.gatewayToken} to .clawdfly/secrets.env)`,
      evidence: evidenceOf(refuse),
    });
  }
  const eacces = first('eacces');
  return new ClawdflyError(`the gateway ${status} ${when}`, {
    code: 'local-exit',
    hint: eacces ? `the state folder is not writable by the gateway's user: fix the owner of ${where.configFile.replace(/\/[^/]+$/, '')}` : 'see the log lines above; --verbose shows every step',
    evidence: eacces ? evidenceOf(eacces) : result.lines.filter((l) => l.trim()).slice(-8),
  });
}
