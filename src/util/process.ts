/**
 * The one way src/local and the desktop helpers start other programs: argv arrays (never a shell),
 * a timeout on everything that is awaited, and one PATH lookup. (src/fly has its own flyctl runner.)
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams, type StdioOptions } from 'node:child_process';

/** The one module that imports node:child_process; everyone else takes the types from here. */
export type { ChildProcess, ChildProcessWithoutNullStreams };

export interface ProcessResult {
  /** Exit code; 127 when the program could not be started, 128 + n for a signal. */
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  /** The whole environment of the child (default: ours). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
  /** SIGKILL after this long (default 60 s): an engine or tool that hangs must not hang us. */
  timeoutMs?: number;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Runs a program to its end and collects its output; never throws for a failure of the program. */
export async function runProcess(file: string, args: readonly string[], opts: RunOptions = {}): Promise<ProcessResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const r = await collectProcess(file, args, { env: opts.env ?? process.env, cwd: opts.cwd, input: opts.input, timeoutMs, killSignal: 'SIGKILL' });
  if (r.timedOut) return { code: 128 + 9, stdout: r.stdout, stderr: r.stderr || `timed out after ${(timeoutMs / 1000).toFixed(0)} s`, timedOut: true };
  // Not started at all (ENOENT, EACCES): the shell's convention.
  if (r.startError) return { code: 127, stdout: r.stdout, stderr: r.stderr || r.startError.message, timedOut: false };
  return { code: r.code ?? 128 + (SIGNALS[r.signal ?? ''] ?? 0), stdout: r.stdout, stderr: r.stderr, timedOut: false };
}

export interface CollectOptions {
  /** The whole environment of the child. */
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string | Buffer;
  /** After this long the child gets killSignal, and SIGKILL killAfterMs later if it is still there. */
  timeoutMs: number;
  killSignal?: NodeJS.Signals;
  killAfterMs?: number;
  /** Each chunk of output as it arrives (progress); the text is collected either way. */
  onData?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  /** Called with the child once it is started (e.g. to forward Ctrl-C to it); its result runs when the child is gone. */
  whileRunning?: (child: ChildProcess) => () => void;
  /** Its own process group: a terminal's Ctrl-C (sent to our group) does not reach it. */
  detached?: boolean;
}

export interface Collected {
  /** null when the child was ended by a signal or never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The program could not be started (ENOENT, EACCES). */
  startError?: Error;
}

/** Children still running when clawdfly exits (an error, Ctrl-C) are ended with it, never left behind. */
const running = new Set<ChildProcess>();
let endChildrenOnExit = false;

/**
 * Runs a program to its end with a timeout and collects stdout and stderr as text. The one
 * collecting spawn of the project: runProcess here and the flyctl runner (src/fly/run.ts) use it.
 */
export function collectProcess(file: string, args: readonly string[], opts: CollectOptions): Promise<Collected> {
  if (!endChildrenOnExit) {
    endChildrenOnExit = true;
    process.once('exit', () => running.forEach((child) => child.kill('SIGTERM')));
  }
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: opts.detached ?? false });
    running.add(child);
    const release = opts.whileRunning?.(child);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    let startError: Error | undefined;
    const timers: NodeJS.Timeout[] = [];
    timers.push(
      setTimeout(() => {
        timedOut = true;
        child.kill(opts.killSignal ?? 'SIGTERM');
        if (opts.killSignal !== 'SIGKILL') timers.push(setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 2_000));
      }, opts.timeoutMs),
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      opts.onData?.(chunk, 'stdout');
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      opts.onData?.(chunk, 'stderr');
    });
    if (child.stdin) {
      // A child that exits without reading its stdin must not crash us with EPIPE.
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
    child.on('error', (error) => {
      startError = error;
    });
    child.on('close', (code, signal) => {
      timers.forEach(clearTimeout);
      running.delete(child);
      release?.();
      resolve({ code, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), timedOut, startError });
    });
  });
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stdio?: StdioOptions;
  /** Own process group (so the group can be signalled, or the child outlives us when unref'd). */
  detached?: boolean;
  /** SIGKILL after this long; for long-running children, omit and stop them yourself. */
  timeoutMs?: number;
}

/** Starts a long-running program (a gateway, `logs -f`, a build that streams progress). */
export function spawnProcess(file: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const child = spawn(file, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
  if (opts.timeoutMs !== undefined) {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    timer.unref();
    child.once('close', () => clearTimeout(timer));
    child.once('error', () => clearTimeout(timer));
  }
  return child;
}

/** spawnProcess with stdin, stdout and stderr all pipes (typed so). */
export function spawnPiped(file: string, args: readonly string[], opts: Omit<SpawnOptions, 'stdio'> = {}): ChildProcessWithoutNullStreams {
  return spawnProcess(file, args, { ...opts, stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
}

/** The first executable file called `name` on PATH (or `name` itself when absolute). */
/** The one find-on-PATH, shared with src/fly/ (which does not spawn through this module). */
export { findOnPath } from './find-on-path.js';
