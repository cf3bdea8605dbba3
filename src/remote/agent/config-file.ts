/**
 * The gateway's config file on the machine: read it, replace it atomically, put a backup back
 * (the laptop's side: src/remote/config-transfer.ts). As the owner of its dir, never through a
 * link, with names unique by construction; nothing is chmod'ed or chown'ed.
 *
 * A push, in one call (a broken connection at any step leaves the live file untouched):
 *   1. under the dir's `flock` (two pushes at once run one after the other), the uploaded bytes go
 *      into a fresh file next to the live one (0600 from the start);
 *   2. their sha256 must be what was sent; with a validator, the machine's own gateway judges the
 *      upload (in a scratch HOME and state dir): a file it refuses is thrown away, its verdict returned;
 *   3. the current file is copied to `<file>.<UTC stamp>.bak` (via another fresh name), the upload
 *      renamed over the live file (atomic), then the OLDEST backups pruned, never the one just made.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { AgentFailure } from './failure.js';
import { AGENT_STATUS, CONFIG_LOCK_WAIT_S, type AgentParams, type AgentResponses } from './protocol.js';

const LOCK_WAIT_S = CONFIG_LOCK_WAIT_S;

function plainName(name: string): string {
  if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new AgentFailure(`${JSON.stringify(name)} is not a file name`, AGENT_STATUS.badRequest);
  return name;
}

/** A regular file (not a link) at `abs`, or undefined; anything else there is refused. */
function regularFile(abs: string): fs.Stats | undefined {
  const st = fs.lstatSync(abs, { throwIfNoEntry: false });
  if (!st) return undefined;
  if (!st.isFile()) throw new AgentFailure(`${abs} is not a regular file`, AGENT_STATUS.refused);
  return st;
}

/** Opens a new file under a name nobody could have guessed (mkstemp's shape: 8 random characters): 0600, O_EXCL, never a link. */
function freshFile(dir: string, prefix: string): { path: string; fd: number } {
  for (let tries = 0; ; tries++) {
    const path = `${dir}/${prefix}${randomBytes(4).toString('hex')}`;
    try {
      return { path, fd: fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 100) throw e;
    }
  }
}

function readRegular(abs: string): Buffer {
  const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    if (!fs.fstatSync(fd).isFile()) throw new AgentFailure(`${abs} is not a regular file`, AGENT_STATUS.refused);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `data` into a fresh file in `dir`, then renames it to `target` (atomic in one dir). */
function replaceAtomically(dir: string, prefix: string, data: Buffer, target: string): void {
  const tmp = freshFile(dir, prefix);
  try {
    fs.writeFileSync(tmp.fd, data);
    fs.fsyncSync(tmp.fd);
  } catch (e) {
    fs.closeSync(tmp.fd);
    fs.rmSync(tmp.path, { force: true });
    throw e;
  }
  fs.closeSync(tmp.fd);
  fs.renameSync(tmp.path, target);
}

/**
 * Holds the dir's flock (the lock a push of any clawdfly version takes) until release() — through a
 * `flock` child that keeps it while its stdin is open, so the lock goes with the agent if it dies.
 * Without flock on the machine, no lock (as before).
 */
async function lockDir(dir: string): Promise<() => void> {
  if (spawnSync('sh', ['-c', 'command -v flock'], { stdio: 'ignore' }).status !== 0) return () => {};
  const child = spawn('flock', ['-w', String(LOCK_WAIT_S), dir, 'sh', '-c', 'echo locked; cat >/dev/null'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const locked = await new Promise<boolean>((resolve) => {
    child.stdout.once('data', () => resolve(true));
    child.once('exit', () => resolve(false));
    child.once('error', () => resolve(false));
  });
  if (!locked) throw new AgentFailure('another config push is still running on this machine', AGENT_STATUS.busy);
  return () => child.stdin.end();
}

export function readConfig(dir: string, params: AgentParams['config-read']): AgentResponses['config-read'] {
  const abs = `${dir}/${plainName(params.name)}`;
  if (!regularFile(abs)) throw new AgentFailure(`${abs} does not exist`, AGENT_STATUS.missing);
  return { text64: readRegular(abs).toString('base64') };
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.(\d+)Z$/, '$1Z');
}

/** The gateway's own verdict on the uploaded file, in a scratch HOME and state dir; undefined when it accepts it. */
function judge(file: string, validator: NonNullable<AgentParams['config-push']['validator']>): string | undefined {
  const scratch = fs.mkdtempSync(`${os.tmpdir().replace(/\/+$/, '')}/clawdfly-validate-`);
  try {
    const [cmd, ...args] = validator.argv;
    const r = spawnSync(cmd!, args, {
      env: { ...process.env, HOME: scratch, [validator.stateDirVar]: `${scratch}/state`, [validator.configPathVar]: file, NO_COLOR: '1' },
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
    });
    if (r.status === 0) return undefined;
    return `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** Backups a push made of `name` (`<name>.<stamp>.bak`, regular files), oldest first. */
function backupsOf(dir: string, name: string): { name: string; mtimeMs: number }[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.startsWith(`${name}.`) && n.endsWith('.bak') && /^[0-9][0-9TZ.a-z]*$/.test(n.slice(name.length + 1, -'.bak'.length)))
    .flatMap((n) => {
      const st = fs.lstatSync(`${dir}/${n}`, { throwIfNoEntry: false });
      return st?.isFile() ? [{ name: n, mtimeMs: st.mtimeMs }] : [];
    })
    .sort((a, b) => a.mtimeMs - b.mtimeMs);
}

export async function pushConfig(dir: string, params: AgentParams['config-push'], input: NodeJS.ReadableStream): Promise<AgentResponses['config-push']> {
  const name = plainName(params.name);
  const live = `${dir}/${name}`;
  const release = await lockDir(dir);
  try {
    const upload = freshFile(dir, `.${name}.`);
    let committed = false;
    try {
      const hash = createHash('sha256');
      for await (const chunk of input as AsyncIterable<Buffer>) {
        hash.update(chunk);
        for (let off = 0; off < chunk.length; ) off += fs.writeSync(upload.fd, chunk, off, chunk.length - off);
      }
      fs.fsyncSync(upload.fd);
      fs.closeSync(upload.fd);
      if (hash.digest('hex') !== params.sha256) throw new AgentFailure('the upload does not match what was sent', AGENT_STATUS.damaged);
      if (params.validator) {
        const verdict = judge(upload.path, params.validator);
        if (verdict !== undefined) throw new AgentFailure(`__VERDICT=${Buffer.from(verdict, 'utf8').toString('base64')}`, AGENT_STATUS.refused);
      }
      let backup: string | undefined;
      if (regularFile(live)) {
        backup = `${name}.${stamp()}.bak`;
        replaceAtomically(dir, `.${name}.bak.`, readRegular(live), `${dir}/${backup}`);
      }
      fs.renameSync(upload.path, live);
      committed = true;
      // prune by age, never the backup just made
      const keepOld = Math.max(0, params.keep - (backup ? 1 : 0));
      const old = backupsOf(dir, name).filter((b) => b.name !== backup);
      for (const b of old.slice(0, Math.max(0, old.length - keepOld))) fs.rmSync(`${dir}/${b.name}`, { force: true });
      return { committed: true, backup };
    } finally {
      if (!committed) {
        try {
          fs.closeSync(upload.fd);
        } catch {
          /* closed already */
        }
        fs.rmSync(upload.path, { force: true });
      }
    }
  } finally {
    release();
  }
}

/** Puts `backup` back in place of the live file; with no backup, moves the live file aside. */
export async function restoreConfig(dir: string, params: AgentParams['config-restore']): Promise<AgentResponses['config-restore']> {
  const name = plainName(params.name);
  const live = `${dir}/${name}`;
  const release = await lockDir(dir);
  try {
    if (params.backup === undefined) {
      if (!regularFile(live)) return { restored: false };
      const aside = freshFile(dir, `.${name}.rejected.`);
      fs.closeSync(aside.fd);
      fs.renameSync(live, aside.path);
      return { restored: false, aside: aside.path.slice(dir.length + 1) };
    }
    const backup = `${dir}/${plainName(params.backup)}`;
    if (!regularFile(backup)) throw new AgentFailure(`backup ${backup} is missing`, AGENT_STATUS.missing);
    replaceAtomically(dir, `.${name}.`, readRegular(backup), live);
    return { restored: true };
  } finally {
    release();
  }
}
