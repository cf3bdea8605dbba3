/**
 * The one way src/local and the desktop helpers start other programs: argv arrays (never a shell),
 * a timeout on everything that is awaited, and one PATH lookup. (src/fly has its own flyctl runner.)
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams, type StdioOptions } from 'node:child_process';

/** The one module that imports node:child_process; everyone else takes the types from here. */
export type { ChildProcess, ChildProcessWithoutNullStreams };
import { execa } from 'execa';

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
  const r = await execa(file, args, {
    env: opts.env ?? process.env,
    extendEnv: false,
    cwd: opts.cwd,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    timeout: opts.timeoutMs ?? 60_000,
    killSignal: 'SIGKILL',
    reject: false,
    stripFinalNewline: false,
    encoding: 'utf8',
  });
  const stdout = typeof r.stdout === 'string' ? r.stdout : '';
  let stderr = typeof r.stderr === 'string' ? r.stderr : '';
  if (r.timedOut) return { code: 128 + 9, stdout, stderr: stderr || `timed out after ${((opts.timeoutMs ?? 60_000) / 1000).toFixed(0)} s`, timedOut: true };
  let code = r.exitCode;
  if (code === undefined) {
    if (r.signal) code = 128 + (SIGNALS[r.signal] ?? 0);
    else {
      // Not started at all (ENOENT, EACCES): the shell's convention.
      code = 127;
      stderr = stderr || (r as { originalMessage?: string }).originalMessage || r.shortMessage || 'could not start';
    }
  }
  return { code, stdout, stderr, timedOut: false };
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
