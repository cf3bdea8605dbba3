/**
 * Is the gateway really up? Evidence, polled with a short interval under one overall deadline:
 * the machine's state and exit events (exit code, OOM flag), the gateway's own log lines of the
 * current boot (listening address and port, or why it refused to start), and the public URL.
 * A failure is reported as soon as the evidence shows one, with that evidence attached.
 */
import { redact } from '../ui/redact.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClawdflyError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import { exitOf, type LogEntry, type Machine } from '../fly/json.js';
import { classifyLines, isMemoryExit, type LogFinding } from '../gateway/logs.js';
import type { GatewayRuntime } from '../gateway/runtime.js';
import { describeFailing, fetchReadiness, readinessUrl, type Readiness } from '../gateway/health.js';
import { gatewayMachine } from './plan.js';

/** How long the URL may take to answer once the gateway listens (Fly's proxy picks a new machine up in seconds). */
const URL_WINDOW_MS = 20_000;

/**
 * The URL window. CLAWDFLY_VERIFY_URL_WINDOW_MS overrides it — a test-only knob, like
 * CLAWDFLY_VERIFY_TIMEOUT_MS and CLAWDFLY_VERIFY_INTERVAL_MS: a test of "the URL never answers"
 * sets a short window instead of waiting out the real one.
 */
export function defaultUrlWindowMs(): number {
  return Number(process.env['CLAWDFLY_VERIFY_URL_WINDOW_MS'] || URL_WINDOW_MS);
}

/** How long verification waits for the gateway by default (CLAWDFLY_VERIFY_TIMEOUT_MS overrides it, for tests). */
export function defaultVerifyTimeoutMs(): number {
  return Number(process.env['CLAWDFLY_VERIFY_TIMEOUT_MS'] || 120_000);
}

export interface VerifyOptions {
  port: number;
  url: string;
  /** Only exits and log lines after this moment (ms since the epoch) count. */
  since: number;
  /** This run deployed (or the machine is new): require the listening line of the current boot. */
  requireListening: boolean;
  /** Names the fixes in messages (config file, token variable). */
  runtime: GatewayRuntime;
  /** A brand-new app's URL may not resolve for minutes (DNS, certificates): a warning, not a failure. */
  newApp: boolean;
  /** false: the URL is private (Flycast) and cannot be fetched from here. */
  probeUrl?: boolean;
  /** The gateway token: sent (HTTPS only) so the ready endpoint names what is failing. */
  gatewayToken?: string;
  deadlineMs?: number;
  intervalMs?: number;
  /** How long the URL may take to answer once the gateway listens (default defaultUrlWindowMs()). */
  urlWindowMs?: number;
  onUpdate?: (text: string) => void;
}

export interface VerifyResult {
  machine: Machine;
  listening?: Extract<LogFinding, { kind: 'listening' }>;
  urlStatus?: number;
  /** The gateway's own ready endpoint's answer, when the runtime has one and it was asked. */
  readiness?: Readiness;
  warnings: string[];
  /** Log findings worth reporting that are not failures (reload lines, EACCES). */
  notes: string[];
}

const PUBLIC_HOSTS = new Set(['0.0.0.0', '[::]']);

/** Log findings that end a boot, with the fix (named for this runtime). */
function fatalCauses(runtime: GatewayRuntime): Record<string, { what: string; hint: string }> {
  return {
    'config-invalid': { what: 'the gateway refused its config', hint: `fix ${runtime.configFileName} (clawdfly config validate), then clawdfly deploy` },
    'config-missing': { what: 'the gateway found no config and refused to start', hint: 'keep --allow-unconfigured in [processes] app, then clawdfly deploy' },
    'refuse-bind': { what: 'the gateway refused to bind beyond loopback without a token', hint: `clawdfly deploy stages ${runtime.env.gatewayToken}; check .clawdfly/secrets.env has it` },
    oom: { what: 'the gateway ran out of memory', hint: 'raise memory under [[vm]] in fly.toml (2048mb recommended), then clawdfly deploy' },
    lock: { what: 'a stale gateway lock blocks the start', hint: 'clawdfly doctor --fix' },
    'port-in-use': { what: 'the gateway port is already in use on the machine', hint: 'clawdfly doctor' },
    crash: { what: 'the gateway crashed after starting', hint: 'clawdfly logs; keep [[restart]] policy = "always" so Fly restarts it' },
  };
}

export function logLines(entries: LogEntry[], since: number): string[] {
  return entries
    .filter((e) => {
      const t = e.timestamp ? Date.parse(e.timestamp) : NaN;
      return Number.isNaN(t) || t >= since;
    })
    .map((e) => e.message);
}

/** The latest start of the machine (ms), so only the current boot's log lines count. */
export function lastStart(machine: Machine | undefined): number | undefined {
  const starts = (machine?.events ?? []).filter((e) => e.type === 'start' && typeof e.timestamp === 'number').map((e) => e.timestamp!);
  return starts.length ? Math.max(...starts) : undefined;
}

/** The latest unrequested bad exit after `since`. */
export function badExit(machine: Machine | undefined, since: number): { code?: number; oom: boolean; oomKilled: boolean; at: number } | undefined {
  let worst: { code?: number; oom: boolean; oomKilled: boolean; at: number } | undefined;
  for (const event of machine?.events ?? []) {
    if (event.type !== 'exit' || (event.timestamp ?? 0) < since) continue;
    const exit = exitOf(event);
    if (!exit || exit.requested_stop) continue;
    const oom = exit.oom_killed === true || isMemoryExit(exit.exit_code, exit.oom_killed);
    if (!oom && (exit.exit_code ?? 0) === 0) continue;
    if (!worst || (event.timestamp ?? 0) > worst.at) worst = { code: exit.exit_code, oom, oomKilled: exit.oom_killed === true, at: event.timestamp ?? 0 };
  }
  return worst;
}

function tail(lines: string[], n = 8): string[] {
  return lines.filter((l) => l.trim()).slice(-n).map((l) => redact(l.trimEnd()).slice(0, 300));
}

export class Verifier {
  private lines: string[] = [];
  private entriesSeen = new Set<string>();
  private readonly deadline: number;
  private readonly interval: number;
  listening?: Extract<LogFinding, { kind: 'listening' }>;
  machine?: Machine;

  constructor(
    private readonly fly: FlyClient,
    readonly opts: VerifyOptions,
  ) {
    this.deadline = Date.now() + (opts.deadlineMs ?? defaultVerifyTimeoutMs());
    this.interval = opts.intervalMs ?? Number(process.env['CLAWDFLY_VERIFY_INTERVAL_MS'] || 2_000);
  }

  private remaining(): number {
    return this.deadline - Date.now();
  }

  /** One look at machines and logs (in parallel). Throws when the evidence shows a failure. */
  private async poll(withLogs: boolean): Promise<void> {
    const logTimeout = Math.max(1_000, Math.min(8_000, this.remaining()));
    const [listed, fetched] = await Promise.allSettled([
      this.fly.machines(),
      withLogs ? this.fly.recentLogs({ machineId: this.machine?.id, timeoutMs: logTimeout }) : Promise.resolve(undefined),
    ]);
    if (listed.status === 'rejected') throw listed.reason;
    const machine = gatewayMachine(listed.value);
    if (!machine) {
      throw new ClawdflyError(`app ${this.fly.app} has no machine`, { hint: 'clawdfly deploy  (creates it)', code: 'no-machine' });
    }
    this.machine = machine;
    // The machine is known even when the logs could not be read (the deploy can be recorded).
    if (fetched.status === 'rejected') throw fetched.reason;
    const logs = fetched.value;
    const bootStart = lastStart(machine);
    // Only the current boot's lines count (and, after a deploy, only lines after it began).
    const from = this.opts.requireListening ? Math.max(this.opts.since, (bootStart ?? this.opts.since) - 2_000) : (bootStart ?? 0) - 2_000;
    if (logs) {
      for (const entry of logs.entries) {
        if (entry.instance && entry.instance !== machine.id) continue;
        const key = `${entry.timestamp ?? ''}|${entry.message}`;
        if (this.entriesSeen.has(key)) continue;
        this.entriesSeen.add(key);
        if (logLines([entry], from).length) this.lines.push(entry.message);
      }
    }
    this.judge(machine);
  }

  private judge(machine: Machine): void {
    // Only this runtime's own listening line counts: after an upgrade, the old gateway's line would
    // prove that the old gateway still runs, not that the new one does.
    const findings = classifyLines(this.lines).filter((f) => f.kind !== 'listening' || this.opts.runtime.listeningLine.test(f.line));
    let lastListen = -1;
    findings.forEach((f, i) => {
      if (f.kind === 'listening') lastListen = i;
    });
    const listens = findings.filter((f): f is Extract<LogFinding, { kind: 'listening' }> => f.kind === 'listening');
    // `--bind lan` prints one line (0.0.0.0); loopback prints 127.0.0.1 and [::1]: judge the best one.
    const isPublic = (l: { host?: string }) => l.host !== undefined && PUBLIC_HOSTS.has(l.host);
    const listening = listens.find((l) => isPublic(l) && l.port === this.opts.port) ?? listens.find(isPublic) ?? listens[0];
    const after = findings.slice(lastListen + 1);
    const FATAL = fatalCauses(this.opts.runtime);
    const fatal = after.find((f) => FATAL[f.kind]);
    const exit = badExit(machine, this.opts.since);
    if (fatal || (exit && !listening) || (exit && machine.state !== 'started')) {
      const cause = fatal ? FATAL[fatal.kind]!.what : exit!.oom ? 'the gateway was killed for lack of memory' : `the gateway exited with code ${exit!.code ?? '?'}`;
      const exitText = exit ? `machine ${machine.id} exit: code ${exit.code ?? '?'}${exit.oomKilled ? ', oom_killed' : exit.oom ? ' (a memory kill: 134 = V8 heap, 137 = OOM killer)' : ''}` : undefined;
      const problems = fatal?.kind === 'config-invalid' ? fatal.problems.map((p) => `- ${p}`) : [];
      throw new ClawdflyError(`deploy finished, but ${cause}`, {
        hint: fatal ? FATAL[fatal.kind]!.hint : exit!.oom ? FATAL['oom']!.hint : 'clawdfly logs  (then clawdfly doctor)',
        code: fatal ? `gateway-${fatal.kind}` : exit!.oom ? 'gateway-oom' : 'gateway-exited',
        evidence: [...(exitText ? [exitText] : []), ...problems, ...tail(this.lines)],
      });
    }
    if (listening) {
      // a listening line that names no address (runtime.listeningLine): Fly's own checks then judge reachability.
      if (listening.host !== undefined && !PUBLIC_HOSTS.has(listening.host)) {
        throw new ClawdflyError(`the gateway listens on ${listening.host}:${listening.port}, which Fly's proxy cannot reach`, {
          hint: 'the process command in fly.toml must have --bind lan (0.0.0.0); then clawdfly deploy',
          code: 'gateway-loopback',
          evidence: [listening.line],
        });
      }
      if (listening.port !== undefined && listening.port !== this.opts.port) {
        throw new ClawdflyError(`the gateway listens on port ${listening.port}, but Fly's proxy sends traffic to ${this.opts.port}`, {
          hint: 'make [http_service] internal_port equal --port in fly.toml; then clawdfly deploy',
          code: 'gateway-port',
          evidence: [listening.line],
        });
      }
      // A runtime whose start can still fail after the listening line counts as up at its ready line.
      const readyLine = this.opts.runtime.readyLine;
      if (!readyLine || this.lines.some((l) => readyLine.test(l))) this.listening = listening;
    }
  }

  private ready(): boolean {
    const m = this.machine;
    if (!m || m.state !== 'started') return false;
    if (this.listening) return true;
    if (this.opts.requireListening) return false;
    // Unchanged machine: its boot may be older than the log buffer; passing checks are the evidence.
    return (m.checks ?? []).every((c) => c.status === 'passing');
  }

  private timeout(what: string): ClawdflyError {
    const m = this.machine;
    return new ClawdflyError(`${what} within ${Math.round((this.deadline - this.opts.since) / 1000)} s`, {
      hint: 'clawdfly status  and  clawdfly logs  (a first boot can take a minute; run deploy again to re-check)',
      code: 'verify-timeout',
      evidence: [...(m ? [`machine ${m.id}: ${m.state}`] : []), ...tail(this.lines)],
    });
  }

  /** Waits until the machine is started (needed before ssh), failing fast on a crash. */
  async machineStarted(): Promise<Machine> {
    for (;;) {
      await this.poll(true);
      if (this.machine?.state === 'started') return this.machine;
      this.opts.onUpdate?.(`machine ${this.machine?.id ?? ''} is ${this.machine?.state ?? 'missing'}`);
      if (this.remaining() <= 0) throw this.timeout('the machine did not start');
      await sleep(Math.min(this.interval, Math.max(0, this.remaining())));
    }
  }

  /** Waits for the gateway's listening line (or, unchanged, passing checks), then checks the URL. */
  async finish(): Promise<VerifyResult> {
    const warnings: string[] = [];
    while (!this.ready()) {
      if (this.remaining() <= 0) throw this.timeout(`the gateway did not report that it listens on 0.0.0.0:${this.opts.port}`);
      this.opts.onUpdate?.('waiting for the gateway to listen');
      await sleep(Math.min(this.interval, Math.max(0, this.remaining())));
      await this.poll(true);
    }
    if (!this.listening) warnings.push('no recent "[gateway] listening" log line (the boot is older than the log buffer); health checks pass');
    const notes = classifyLines(this.lines)
      .filter((f) => f.kind === 'reload-applied' || f.kind === 'reload-skipped' || f.kind === 'eacces')
      .map((f) => f.line);

    if (this.opts.probeUrl === false) return { machine: this.machine!, listening: this.listening, warnings, notes };
    const readyUrl = readinessUrl(this.opts.runtime, this.opts.url);
    if (readyUrl) return this.waitReady(readyUrl, warnings, notes);
    this.opts.onUpdate?.(`GET ${this.opts.url}`);
    const urlDeadline = Date.now() + Math.min(this.opts.urlWindowMs ?? defaultUrlWindowMs(), Math.max(0, this.remaining()));
    let urlStatus: number | undefined;
    let lastError = '';
    for (;;) {
      try {
        const response = await fetch(this.opts.url, { redirect: 'manual', signal: AbortSignal.timeout(Math.max(1_000, Math.min(10_000, this.remaining()))) });
        await response.body?.cancel();
        urlStatus = response.status;
        if (response.status < 500) break;
        lastError = `HTTP ${response.status}`;
      } catch (error) {
        lastError = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
      }
      urlStatus = undefined;
      // One rule for a first deploy and a re-run: the gateway is listening, so the deploy did its
      // job; a URL that still does not answer after the URL window is reported, never waited out.
      if (Date.now() >= urlDeadline) {
        const why = this.opts.newApp ? "a new app's DNS and certificate can take a few minutes" : 'run clawdfly doctor (port, bind address, health checks)';
        warnings.push(`${this.opts.url} does not answer yet (${lastError}); ${why}`);
        break;
      }
      await sleep(Math.min(this.interval, Math.max(0, urlDeadline - Date.now())));
    }
    return { machine: this.machine!, listening: this.listening, urlStatus, warnings, notes };
  }

  /**
   * A gateway with its own ready endpoint (runtime.health) is up once that answers 200 through the
   * app's URL: its start finished and no channel is failing. While it answers 503 this waits (until
   * the deadline, then fails naming what it lists); a URL that does not answer at all is reported
   * after the URL window, like the plain URL check, never waited out.
   */
  private async waitReady(readyUrl: string, warnings: string[], notes: string[]): Promise<VerifyResult> {
    const urlDeadline = Date.now() + Math.min(URL_WINDOW_MS, Math.max(0, this.remaining()));
    let last: Readiness | undefined;
    let lastError = '';
    for (;;) {
      this.opts.onUpdate?.(last ? `GET ${readyUrl}: ${describeFailing(last)} not ready yet` : `GET ${readyUrl}`);
      try {
        const readiness = await fetchReadiness(readyUrl, Math.max(1_000, Math.min(10_000, this.remaining())), this.opts.gatewayToken);
        if (readiness?.ready) return { machine: this.machine!, listening: this.listening, urlStatus: readiness.status, readiness, warnings, notes };
        // Nothing was started by this run (an unchanged machine): what it says is reported, not waited out.
        if (readiness && !this.opts.requireListening) {
          warnings.push(`${readyUrl} answers ${readiness.status}: not ready (failing ${describeFailing(readiness)}); clawdfly doctor names the fix`);
          return { machine: this.machine!, listening: this.listening, urlStatus: readiness.status, readiness, warnings, notes };
        }
        if (readiness) last = readiness;
        else lastError = `not the gateway's ${this.opts.runtime.health!.ready} answer`;
      } catch (error) {
        lastError = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
      }
      if (last && this.remaining() <= 0) throw this.notReady(readyUrl, last);
      if (!last && Date.now() >= urlDeadline) {
        const why = this.opts.newApp ? "a new app's DNS and certificate can take a few minutes" : 'run clawdfly doctor (port, bind address, health checks)';
        warnings.push(`${readyUrl} does not answer yet (${lastError}); ${why}`);
        return { machine: this.machine!, listening: this.listening, warnings, notes };
      }
      await sleep(Math.min(this.interval, Math.max(0, this.remaining())));
    }
  }

  private notReady(readyUrl: string, readiness: Readiness): ClawdflyError {
    const channels = readiness.channels;
    const what = channels.length
      ? `the gateway started, but ${channels.length === 1 ? 'channel' : 'channels'} ${channels.join(', ')} ${channels.length === 1 ? 'is' : 'are'} not ready`
      : `the gateway did not finish its start (${describeFailing(readiness)})`;
    return new ClawdflyError(`${what} within ${Math.round((this.deadline - this.opts.since) / 1000)} s`, {
      hint: channels.length ? 'clawdfly doctor  (names the channel and its fix; clawdfly logs shows its own words)' : 'clawdfly logs  (then clawdfly doctor)',
      code: 'gateway-not-ready',
      evidence: [`GET ${readyUrl} → ${readiness.status}: failing ${JSON.stringify(readiness.failing)}`, ...tail(this.lines)],
    });
  }
}
