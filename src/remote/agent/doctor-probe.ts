/**
 * doctor's look at the machine (`doctor-probe`, read-only) and `doctor --fix`'s removal of a gateway
 * lock whose owner is gone (`remove-stale-lock`). Both run as the state dir's owner (main.ts drops
 * to it first), never follow a link (lstat, O_NOFOLLOW) and print only names that passed a pattern
 * or control characters stripped (printable).
 *
 * A lock's owner is judged the gateway's way (gateway.md §4): alive while `/proc/<pid>` exists, and
 * its start time (field 22 of /proc/<pid>/stat) must be the lock's `startTime` when both are known.
 * The process table is read under procRoot(): `/proc` on a machine; flyctl's test double points
 * CLAWDFLY_TEST_PROC_ROOT at the fake table of its machine (test/fakefly/README.md).
 */
import * as fs from 'node:fs';
import { openPlain, printable, readWhole } from './files.js';
import { LEFTOVER_NAME_RE } from './find.js';
import type { DoctorProbe, ProbeLock, StaleLockRemoval } from './protocol.js';

/** Largest lock file read (a gateway's lock is a few dozen bytes). */
const MAX_LOCK_BYTES = 4096;

export function procRoot(): string {
  return process.env['CLAWDFLY_TEST_PROC_ROOT'] || '/proc';
}

/** Whether `pid` runs, and its start time (clock ticks since boot) when readable. */
export function processStatus(pid: number, root = procRoot()): { alive: boolean; start?: number } {
  let stat: string;
  try {
    stat = fs.readFileSync(`${root}/${pid}/stat`, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return { alive: false };
    return { alive: fs.existsSync(`${root}/${pid}`) }; // there, but its stat is not ours to read
  }
  // the command name (field 2) may hold spaces and ')': count from the last ') '
  const start = Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[19]);
  return Number.isSafeInteger(start) && start > 0 ? { alive: true, start } : { alive: true };
}

/** The lock's bytes (a regular file, never a link), at most MAX_LOCK_BYTES. */
function lockText(path: string): string | undefined {
  const opened = openPlain(path);
  if (opened.error !== undefined) return undefined;
  try {
    return readWhole(opened.fd, Math.min(opened.st.size, MAX_LOCK_BYTES)).toString('utf8');
  } finally {
    fs.closeSync(opened.fd);
  }
}

/** A positive integer `pid` in the lock's JSON, or undefined. */
function lockPid(text: string): { pid?: number; startTime?: number } {
  try {
    const value = JSON.parse(text) as { pid?: unknown; startTime?: unknown };
    const pid = Number.isSafeInteger(value.pid) && (value.pid as number) > 0 ? (value.pid as number) : undefined;
    const startTime = Number.isSafeInteger(value.startTime) && (value.startTime as number) > 0 ? (value.startTime as number) : undefined;
    return { pid, startTime };
  } catch {
    return {};
  }
}

function isRealDir(path: string): boolean {
  return fs.lstatSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

function names(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** `<prefix><uid>` folders (real folders, digits-only uid) under `base`. */
function lockDirs(base: string, prefix: string): string[] {
  const re = new RegExp(`^${prefix.replace(/[^\w.-]/g, '').replace(/\./g, '\\.')}[0-9]+$`);
  return names(base)
    .filter((n) => re.test(n) && isRealDir(`${base}/${n}`))
    .map((n) => `${base}/${n}`);
}

/** Gateway lock files (regular files, never links) straight in `dir`. */
function lockFiles(dir: string, lockName: RegExp): string[] {
  return names(dir)
    .filter((n) => lockName.test(n) && fs.lstatSync(`${dir}/${n}`, { throwIfNoEntry: false })?.isFile())
    .map((n) => `${dir}/${n}`);
}

function lockFact(path: string): ProbeLock | undefined {
  const text = lockText(path);
  if (text === undefined) return undefined;
  const { pid } = lockPid(text);
  const status = pid ? processStatus(pid) : { alive: false };
  return { path, json64: Buffer.from(text, 'utf8').toString('base64'), alive: status.alive, ...(status.alive && 'start' in status && status.start ? { procStart: status.start } : {}) };
}

function dirFact(path: string): { path: string; exists: boolean; writable: boolean } {
  if (!fs.statSync(path, { throwIfNoEntry: false })?.isDirectory()) return { path, exists: false, writable: false };
  try {
    fs.accessSync(path, fs.constants.W_OK);
    return { path, exists: true, writable: true };
  } catch {
    return { path, exists: true, writable: false };
  }
}

/** Sum of the sizes of what the owner can reach under `path`, in KiB (never through a link). */
function kibUnder(path: string): number {
  let bytes = 0;
  const visit = (p: string) => {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st) return;
    bytes += st.blocks * 512;
    if (st.isDirectory()) for (const n of names(p)) visit(`${p}/${n}`);
  };
  visit(path);
  return Math.ceil(bytes / 1024);
}

export interface ProbeTargets {
  configs: string[];
  stateDirs: string[];
  tmpBases: string[];
  workspaces: string[];
}

/** The targets from the argv words `c:<config>`, `s:<state dir>`, `t:<tmp base>`, `w:<workspace>` (absolute paths only). */
export function probeTargets(words: string[]): ProbeTargets & { files: string[] } {
  const t: ProbeTargets & { files: string[] } = { configs: [], stateDirs: [], tmpBases: [], workspaces: [], files: [] };
  const into: Record<string, string[]> = { c: t.configs, s: t.stateDirs, t: t.tmpBases, w: t.workspaces, f: t.files };
  for (const word of words) {
    const list = into[word.slice(0, 1)];
    const path = word.slice(2);
    if (list && word[1] === ':' && path.startsWith('/') && !list.includes(path)) list.push(path);
  }
  return t;
}

/** Every remote fact doctor judges, in one call. */
export function doctorProbe(targets: ProbeTargets, opts: { lockDirPrefix: string; lockName: string; maxConfigBytes: number }): DoctorProbe {
  const lockName = new RegExp(opts.lockName);
  const probe: DoctorProbe = { configs: [], stateDirs: [], workspaces: [], locks: [], leftovers: [] };
  const tmpdir = process.env['TMPDIR'];
  if (tmpdir && tmpdir.startsWith('/')) probe.tmpdir = printable(tmpdir);
  const seen = new Set<string>();
  const addLock = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const fact = lockFact(path);
    if (fact) probe.locks.push(fact);
  };
  for (const path of targets.configs) {
    const st = fs.lstatSync(path, { throwIfNoEntry: false });
    if (!st) probe.configs.push({ path, exists: false, regular: false, readable: false });
    else if (!st.isFile()) probe.configs.push({ path, exists: true, regular: false, readable: false });
    else {
      const opened = openPlain(path);
      const readable = opened.error === undefined;
      const text = readable ? readWhole(opened.fd, Math.min(opened.st.size, opts.maxConfigBytes)).toString('base64') : undefined;
      if (readable) fs.closeSync(opened.fd);
      probe.configs.push({ path, exists: true, regular: true, readable, bytes: st.size, mode: (st.mode & 0o7777).toString(8), ...(text !== undefined ? { text64: text } : {}) });
    }
  }
  for (const [i, dir] of targets.stateDirs.entries()) {
    probe.stateDirs.push(dirFact(dir));
    for (const lock of lockFiles(dir, lockName)) addLock(lock);
    if (i > 0 || !isRealDir(dir)) continue; // leftovers and the restore marker: the first state dir's
    for (const name of names(dir).filter((n) => LEFTOVER_NAME_RE.test(n) && isRealDir(`${dir}/${n}`))) {
      const st = fs.lstatSync(`${dir}/${name}`);
      probe.leftovers.push({ path: `${dir}/${name}`, kb: kibUnder(`${dir}/${name}`), mtime: Math.floor(st.mtimeMs / 1000) });
    }
    const marker = `${dir}/.clawdfly-restore.json`;
    const head = fs.lstatSync(marker, { throwIfNoEntry: false })?.isFile() ? lockText(marker) : undefined;
    if (head !== undefined) {
      const state = /"state":\s*"([a-z]{1,20})"/.exec(head)?.[1];
      probe.restoreMarker = { path: marker, state: state ?? 'unreadable' };
    }
  }
  for (const base of [...targets.tmpBases, ...(tmpdir && tmpdir.startsWith('/') ? [tmpdir] : [])]) {
    for (const dir of lockDirs(base, opts.lockDirPrefix)) for (const lock of lockFiles(dir, lockName)) addLock(lock);
  }
  for (const dir of targets.workspaces) probe.workspaces.push(dirFact(dir));
  return probe;
}

/**
 * Removes the lock files named by `f:` words, each re-checked here at delete time: a regular file
 * named like a gateway lock, straight in a state dir given (`s:`) or in a `<prefix><uid>` folder
 * of a tmp base given (`t:`, or $TMPDIR), with a numeric pid whose process is gone, or now another
 * process (start time ≠ the lock's). A lock whose owner came alive in between is kept.
 */
export function removeStaleLocks(targets: ProbeTargets & { files: string[] }, opts: { lockDirPrefix: string; lockName: string }): StaleLockRemoval {
  const lockName = new RegExp(opts.lockName);
  const out: StaleLockRemoval = { removed: [], kept: [], skipped: [] };
  const tmpdir = process.env['TMPDIR'];
  const tmpBases = [...targets.tmpBases, ...(tmpdir && tmpdir.startsWith('/') ? [tmpdir] : [])];
  for (const file of targets.files) {
    const slash = file.lastIndexOf('/');
    const dir = file.slice(0, slash);
    const up = dir.slice(0, dir.lastIndexOf('/'));
    const known = !file.split('/').some((p) => p === '..' || p === '.') && lockName.test(file.slice(slash + 1)) && (targets.stateDirs.includes(dir) || (tmpBases.includes(up) && lockDirs(up, opts.lockDirPrefix).includes(dir)));
    const text = known && fs.lstatSync(file, { throwIfNoEntry: false })?.isFile() ? lockText(file) : undefined;
    const { pid, startTime } = text === undefined ? {} : lockPid(text);
    if (!pid) {
      out.skipped.push(printable(file));
      continue;
    }
    const status = processStatus(pid);
    if (status.alive && (startTime === undefined || status.start === undefined || status.start === startTime)) {
      out.kept.push(file);
      continue;
    }
    try {
      fs.unlinkSync(file); // the name only: a link put there since is removed, never followed
      out.removed.push(file);
    } catch {
      out.skipped.push(file); // not ours to remove (another owner's folder), or gone
    }
  }
  return out;
}
