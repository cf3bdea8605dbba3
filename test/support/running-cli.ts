/**
 * The real CLI as a long-running process, for commands that do not exit on their own
 * (`up --local`, `open`): helpers/cli's runCli waits for the exit, this one lets a test wait
 * for a line, act, then send a signal and read the exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN } from '../helpers/cli.js';

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds from the spawn to the exit. */
  ms: number;
}

export interface RunningCli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first match of `re` on stdout; throws with both streams' tails on exit or timeout. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit, or throws if it has not come `timeoutMs` after this call. */
  exitWithin(timeoutMs: number): Promise<CliExit>;
  exited: Promise<CliExit>;
}

/** Spawns bin/clawdfly.js with exactly `env` (the caller decides what of process.env it passes). */
export function startCli(args: string[], env: NodeJS.ProcessEnv): RunningCli {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<CliExit>((res) => child.on('close', (code, signal) => res({ code, signal, ms: Date.now() - started })));
  let done = false;
  void exited.then(() => (done = true));
  const tails = (): string => `--- stdout ---\n${stdout.slice(-4000)}\n--- stderr ---\n${stderr.slice(-2000)}`;
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = stdout.match(re);
        if (m) return m;
        if (done || Date.now() > deadline) {
          throw new Error(`${done ? 'clawdfly exited' : `timed out after ${timeoutMs} ms`} before printing ${re}\n${tails()}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    exitWithin(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error(`no exit ${timeoutMs} ms after the signal\n${tails()}`)), timeoutMs);
      });
      return Promise.race([exited, late]).finally(() => clearTimeout(timer));
    },
  };
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Empties a cached project folder except the paths in `keep` (relative, '/'-separated), so a
 * test can re-run `init` into it while the expensive parts (an installed runtime bundle, a warm
 * compile cache) survive between runs.
 */
export async function pruneProjectExcept(dir: string, keep: ReadonlySet<string>): Promise<void> {
  const prune = async (rel: string): Promise<void> => {
    const abs = join(dir, rel);
    if (!existsSync(abs)) return;
    for (const entry of await readdir(abs, { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (keep.has(child)) continue;
      if (entry.isDirectory() && [...keep].some((k) => k.startsWith(`${child}/`))) await prune(child);
      else await rm(join(dir, child), { recursive: true, force: true });
    }
  };
  await prune('');
}
