/**
 * The only code that spawns flyctl. argv arrays (never a shell string), a scrubbed environment,
 * stdin always piped and closed, ANSI stripped, a hard timeout on every call, and every line it
 * logs passed through the redaction filter.
 */
import { collectProcess, spawnPiped, spawnProcess, type ChildProcess } from '../util/process.js';
import { isCleaningUp, throwIfInterrupted } from '../util/interrupt.js';
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { stripVTControlCharacters } from 'node:util';
import { classifyFlyError, FlyTimeoutError } from './errors.js';
import { out } from '../ui/output.js';

/** Variables that silently change flyctl's target (flyctl.md §1.4, §5.1). */
const SCRUBBED_ENV = ['FLY_APP', 'FLY_REGION', 'FLY_JSON', 'FLY_ORG', 'FLY_ORGANIZATION'];

export interface RunOptions {
  /** Bytes for the child's stdin; stdin is closed either way (ssh waits for EOF). */
  input?: string | Buffer;
  timeoutMs?: number;
  /** Return the failure instead of throwing. */
  allowFailure?: boolean;
  cwd?: string;
  /** Called with each line of stdout+stderr while the command runs (deploy progress). */
  onLine?: (line: string) => void;
  /**
   * A call that must not be cut off (`storage create` prints credentials once): flyctl runs in its
   * own process group, out of reach of a terminal's Ctrl-C, and no signal is forwarded to it.
   */
  uninterruptible?: boolean;
}

export interface RunResult {
  argv: string[];
  stdout: string;
  stderr: string;
  exitCode: number;
  timedOut: boolean;
  ms: number;
}

export interface CallRecord {
  argv: string[];
  ms: number;
  exitCode: number;
}

export function stripAnsi(text: string): string {
  return stripVTControlCharacters(text);
}

export function flyctlEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  // CLAWDFLY_PASS_FLY_ENV=1 keeps them for people who set them on purpose.
  if (base['CLAWDFLY_PASS_FLY_ENV'] !== '1') for (const name of SCRUBBED_ENV) delete env[name];
  env['NO_COLOR'] = '1';
  env['FLY_NO_UPDATE_CHECK'] = '1';
  return env;
}

export const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * How a buffered flyctl call (FlyctlRunner.run) is carried out: a child process, unless a transport
 * takes the call. Tests set one (the flyctl double's state machine in the same process, see
 * test/helpers/in-process.ts) so that a test's flyctl calls cost no process start; a transport
 * returns undefined for a call it leaves to a real process. Streams, transfers and interactive
 * calls always run flyctl as a process.
 */
export interface FlyTransport {
  run(argv: string[], call: { input: string | Buffer; cwd: string; env: NodeJS.ProcessEnv }): Promise<{ stdout: string; stderr: string; exitCode: number }> | undefined;
}

let transport: FlyTransport | undefined;

/** Sets (or, with undefined, removes) the transport of every FlyctlRunner in this process. */
export function useFlyTransport(next: FlyTransport | undefined): void {
  transport = next;
}

export class FlyctlRunner {
  readonly calls: CallRecord[] = [];

  constructor(readonly path: string) {}

  async run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
    throwIfInterrupted();
    const started = Date.now();
    out.verbose(`$ flyctl ${argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}${options.input !== undefined ? '  (stdin piped)' : ''}`);
    const carried = transport?.run(argv, { input: options.input ?? '', cwd: options.cwd ?? process.cwd(), env: flyctlEnv() });
    if (carried) return this.finish(argv, options, await carried, started);
    // Whole lines only: a line split across chunks would also split a secret past the redaction filter.
    const pending = { stdout: '', stderr: '' };
    const onLine = options.onLine;
    const result = await collectProcess(this.path, argv, {
      input: options.input ?? '',
      cwd: options.cwd,
      env: flyctlEnv(),
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      killAfterMs: SIGNAL_ESCALATION_MS,
      // Ctrl-C ends flyctl too (its end is this run's end: see cli.ts), instead of leaving us waiting
      // for it; not a call that finishes what an interrupted command began (util/interrupt.ts).
      whileRunning: (child) => (isCleaningUp() || options.uninterruptible ? () => {} : whileChildRuns(child)),
      detached: options.uninterruptible === true,
      onData: onLine
        ? (chunk, stream) => {
            const lines = (pending[stream] + chunk.toString()).split(/\r?\n/);
            pending[stream] = lines.pop() ?? '';
            for (const line of lines) if (line.trim()) onLine(stripAnsi(line));
          }
        : undefined,
    });
    const ms = Date.now() - started;
    return this.record(options, {
      argv,
      stdout: stripAnsi(result.stdout),
      stderr: stripAnsi(result.stderr || (result.startError ? `could not start flyctl: ${result.startError.message}` : '')),
      exitCode: result.timedOut ? 126 : (result.code ?? 1),
      timedOut: result.timedOut,
      ms,
    });
  }

  /** A call a transport carried: its lines to onLine (as a process's would have come), then recorded. */
  private finish(argv: string[], options: RunOptions, carried: { stdout: string; stderr: string; exitCode: number }, started: number): RunResult {
    const stdout = stripAnsi(carried.stdout);
    const stderr = stripAnsi(carried.stderr);
    if (options.onLine) for (const line of `${stdout}\n${stderr}`.split(/\r?\n/)) if (line.trim()) options.onLine(line);
    return this.record(options, { argv, stdout, stderr, exitCode: carried.exitCode, timedOut: false, ms: Date.now() - started });
  }

  private record(options: RunOptions, run: RunResult): RunResult {
    const { argv, ms } = run;
    this.calls.push({ argv, ms, exitCode: run.exitCode });
    out.verbose(`  → exit ${run.exitCode} in ${ms} ms${run.stderr.trim() ? `\n${indent(run.stderr)}` : ''}`);
    if (run.exitCode !== 0 && !options.allowFailure) throw failureOf(run, options.timeoutMs);
    return run;
  }

  /**
   * flyctl with binary streams: stdin from a file (or nothing), stdout into a writable (or kept as
   * text). Used by backup/restore, whose archives may be larger than memory. No overall timeout:
   * the call ends when `idleTimeoutMs` passes with no byte either way (a stalled connection).
   */
  transfer(argv: string[], options: TransferOptions): Promise<TransferResult> {
    try {
      throwIfInterrupted();
    } catch (error) {
      return Promise.reject(error);
    }
    out.verbose(`$ flyctl ${argv.map((a) => (a.length > 200 ? `${a.slice(0, 60)}…(${a.length} chars)` : /\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}  (transfer)`);
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawnPiped(this.path, argv, { env: flyctlEnv() });
      const release = whileChildRuns(child);
      let idle: NodeJS.Timeout | undefined;
      let stalled = false;
      const touch = () => {
        if (idle) clearTimeout(idle);
        idle = setTimeout(() => {
          stalled = true;
          child.kill('SIGTERM');
          setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), SIGNAL_ESCALATION_MS).unref();
        }, options.idleTimeoutMs);
      };
      touch();
      const stderr: string[] = [];
      const stdoutText: Buffer[] = [];
      let sinkError: Error | undefined;
      child.stdin.on('error', () => {});
      if (options.stdinPrefix) child.stdin.write(options.stdinPrefix);
      if (options.stdinFile) {
        const input = createReadStream(options.stdinFile);
        input.on('data', (chunk) => {
          touch();
          options.onStdinBytes?.(chunk.length);
        });
        input.on('error', (error) => {
          sinkError = error;
          child.kill('SIGTERM');
        });
        input.pipe(child.stdin);
      } else child.stdin.end();
      child.stdout.on('data', (chunk: Buffer) => {
        touch();
        options.onStdoutBytes?.(chunk.length);
        if (!options.stdout) stdoutText.push(chunk);
      });
      if (options.stdout) {
        options.stdout.on('error', (error) => {
          sinkError = error;
          child.kill('SIGTERM');
        });
        child.stdout.pipe(options.stdout);
      }
      const lines = createInterface({ input: child.stderr, crlfDelay: Infinity });
      lines.on('line', (line) => {
        touch();
        const clean = stripAnsi(line);
        stderr.push(clean);
        options.onStderrLine?.(clean);
      });
      child.on('error', (error) => {
        release();
        if (idle) clearTimeout(idle);
        reject(error);
      });
      child.on('close', (code, signal) => {
        release();
        if (idle) clearTimeout(idle);
        const finish = () => {
          const exitCode = stalled ? 126 : exitCodeOf(code, signal);
          this.calls.push({ argv, ms: Date.now() - started, exitCode });
          resolve({ argv, exitCode, stalled, sinkError, stdout: Buffer.concat(stdoutText).toString('utf8'), stderr: stderr.join('\n'), ms: Date.now() - started });
        };
        // The file must hold every byte before anyone reads it. A sink that already failed (a full
        // disk) will never emit 'finish' or 'error' again: waiting for them left the promise unsettled.
        const sink = options.stdout;
        // `errored` is set at once, its 'error' event only on the next tick: take it from there.
        if (sink?.errored) sinkError ??= sink.errored;
        if (!sink || sinkError || sink.writableFinished || sink.destroyed) finish();
        else sink.once('finish', finish).once('error', (error) => {
          sinkError ??= error;
          finish();
        });
      });
    });
  }

  /** flyctl with the terminal attached (stdin/stdout/stderr inherited): ssh shells and interactive logins. Returns flyctl's exit code. */
  interactive(argv: string[]): Promise<number> {
    out.verbose(`$ flyctl ${argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}  (interactive)`);
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawnProcess(this.path, argv, { env: flyctlEnv(), stdio: 'inherit' });
      // The terminal delivers Ctrl-C to flyctl itself (same foreground group; in raw mode it is a key for the remote side).
      const release = whileChildRuns(child, false);
      child.on('error', (error) => {
        release();
        reject(error);
      });
      child.on('close', (code, signal) => {
        release();
        const exitCode = exitCodeOf(code, signal);
        this.calls.push({ argv, ms: Date.now() - started, exitCode });
        resolve(exitCode);
      });
    });
  }

  /** flyctl with its output delivered line by line as it arrives (`logs` following). Returns flyctl's exit code. */
  stream(argv: string[], options: StreamOptions): Promise<number> {
    try {
      throwIfInterrupted();
    } catch (error) {
      return Promise.reject(error);
    }
    out.verbose(`$ flyctl ${argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}  (streaming)`);
    const started = Date.now();
    return new Promise((resolve, reject) => {
      // stdin is a pipe that we close at once (flyctl.md §8.1), never /dev/null.
      const child = spawnPiped(this.path, argv, { env: flyctlEnv() });
      child.stdin.end();
      const release = whileChildRuns(child);
      let open = 2;
      let exit: number | undefined;
      const done = () => {
        if (open === 0 && exit !== undefined) {
          release();
          this.calls.push({ argv, ms: Date.now() - started, exitCode: exit });
          resolve(exit);
        }
      };
      for (const name of ['stdout', 'stderr'] as const) {
        const lines = createInterface({ input: child[name], crlfDelay: Infinity });
        lines.on('line', (line) => {
          const clean = stripAnsi(line);
          if (clean.trim()) options.onLine(clean, name);
        });
        lines.on('close', () => {
          open--;
          done();
        });
      }
      child.on('error', (error) => {
        release();
        reject(error);
      });
      child.on('close', (code, signal) => {
        exit = exitCodeOf(code, signal);
        done();
      });
    });
  }
}

/**
 * Long-running and interactive flyctl calls (`ssh console`, `logs` without --no-tail). No timeout:
 * they end when flyctl ends or the user presses Ctrl-C. Same argv rules and scrubbed environment.
 */
export interface StreamOptions {
  /** Each complete line of stdout+stderr, ANSI stripped (a line split across chunks is joined first). */
  onLine: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface TransferOptions {
  /** A file whose bytes become flyctl's stdin (then closed); without it stdin is closed at once. */
  stdinFile?: string;
  /** Bytes sent before the file's (the remote agent's frame); not counted in onStdinBytes. */
  stdinPrefix?: Buffer;
  /** Where stdout's bytes go (ended with the stream); without it stdout is returned as text. */
  stdout?: Writable;
  idleTimeoutMs: number;
  onStdoutBytes?: (n: number) => void;
  onStdinBytes?: (n: number) => void;
  onStderrLine?: (line: string) => void;
}

export interface TransferResult {
  argv: string[];
  exitCode: number;
  /** Killed after idleTimeoutMs without a byte. */
  stalled: boolean;
  /** Reading stdinFile or writing stdout failed (e.g. ENOSPC). */
  sinkError?: Error;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Ctrl-C reaches flyctl (it shares our process group on a terminal, and is forwarded otherwise); we wait for it to end. */
/** How long a child may take to exit after a forwarded signal before the next, harder one. */
const SIGNAL_ESCALATION_MS = 2_000;

/**
 * Ctrl-C / SIGTERM reach the child too. A child that ignores them must not keep the user's Ctrl-C
 * from working: SIGTERM follows, then SIGKILL, each after SIGNAL_ESCALATION_MS.
 */
function whileChildRuns(child: ChildProcess, forwardSignals = true): () => void {
  const running = () => child.exitCode === null && child.signalCode === null;
  const timers: NodeJS.Timeout[] = [];
  const escalate = (signals: NodeJS.Signals[]) => {
    const [next, ...rest] = signals;
    if (!next || !running()) return;
    child.kill(next);
    timers.push(setTimeout(() => escalate(rest), SIGNAL_ESCALATION_MS));
  };
  const forward = (signal: NodeJS.Signals) => () => {
    if (forwardSignals && running()) escalate(signal === 'SIGINT' ? ['SIGINT', 'SIGTERM', 'SIGKILL'] : ['SIGTERM', 'SIGKILL']);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    timers.forEach(clearTimeout);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (typeof code === 'number') return code;
  return signal === 'SIGINT' ? 130 : signal ? 128 + 15 : 1;
}

/** The typed error for a failed run (for callers that used allowFailure and decided it is fatal). */
export function failureOf(run: RunResult, timeoutMs = DEFAULT_TIMEOUT_MS): Error {
  if (run.timedOut) {
    return new FlyTimeoutError(`flyctl ${commandName(run.argv)} did not finish within ${Math.round(timeoutMs / 1000)} s`, 'check your network and run the command again (it is safe to repeat)', 'flyctl-timeout');
  }
  return classifyFlyError(run.stderr, run.exitCode, { app: appOf(run.argv), command: commandName(run.argv) });
}

function indent(text: string): string {
  return text.trimEnd().split('\n').map((l) => `    ${l}`).join('\n');
}

/** "volumes create" from ["volumes","create","x","-a","y"]. */
export function commandName(argv: string[]): string {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith('-') || words.length === 2) break;
    words.push(arg);
  }
  return words.join(' ');
}

function appOf(argv: string[]): string | undefined {
  const i = argv.indexOf('-a');
  if (i >= 0) return argv[i + 1];
  // `apps create NAME` names the app positionally (no -a).
  return argv[0] === 'apps' && argv[1] === 'create' && argv[2] && !argv[2].startsWith('-') ? argv[2] : undefined;
}
