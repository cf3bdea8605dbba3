/**
 * The old gateway's files on the state dir, kept for the way back from an upgrade (the laptop's
 * side: src/upgrade/state-snapshot.ts). Every top-level entry but the named ones (tmp/, the
 * workspace) and clawdfly's own folders is COPIED into `<dir>/.clawdfly-pre-upgrade-<random>/`
 * (copies, not hard links: OpenClaw refuses a file with a second link). A rollback sets the newer
 * gateway's entries aside in `<dir>/.clawdfly-post-upgrade-<random>/` and moves the copies back.
 *
 * Never through a link: the walk and the size count use lstat, a link is copied as a link, files
 * are opened with O_NOFOLLOW and created with O_EXCL, rm removes a link and never its target.
 * Every folder is checked by name here (made by mkdtemp with our prefix, straight under the dir).
 */
import * as fs from 'node:fs';
import { AgentFailure, notADirectory } from './failure.js';
import { printable } from './files.js';
import { AGENT_STATUS, type GatewayHold } from './protocol.js';
import { procRoot } from './doctor-probe.js';

export const SNAPSHOT_PREFIX = '.clawdfly-pre-upgrade-';
export const ASIDE_PREFIX = '.clawdfly-post-upgrade-';

/** A folder name mkdtemp made with `prefix` (mktemp's older names, too): letters and digits after it. */
function madeByUs(name: string, prefix: string): boolean {
  return name.startsWith(prefix) && /^[A-Za-z0-9]+$/.test(name.slice(prefix.length));
}

function requireOurs(name: string, prefix: string): void {
  if (!madeByUs(name, prefix)) throw new AgentFailure(`${printable(name)} is not a folder clawdfly made (${prefix}*)`, AGENT_STATUS.refused);
}

/** Entries a snapshot takes: the gateway's (not `notSnapshotted`, not clawdfly's own folders). */
function gatewayEntries(root: string, notSnapshotted: string[]): string[] {
  return fs
    .readdirSync(root)
    .filter((n) => !notSnapshotted.includes(n) && !n.startsWith('.clawdfly-') && !n.startsWith('.pre-restore-'))
    .sort();
}

/** kB on disk under `abs` (du -sk: allocated blocks, links not followed, unreadable parts not counted). */
function diskKb(abs: string): number {
  const st = fs.lstatSync(abs, { throwIfNoEntry: false });
  if (!st) return 0;
  let kb = Math.ceil(((st.blocks ?? 0) * 512) / 1024);
  if (st.isDirectory()) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(abs);
    } catch {
      /* not readable by the owner: not counted */
    }
    for (const n of names) kb += diskKb(`${abs}/${n}`);
  }
  return kb;
}

const asRoot = () => process.getuid?.() === 0;

/** Copies `from` to `to` (which must not exist) as `cp -a` would, never following a link. Special files are listed, not copied. */
function copyEntry(from: string, to: string, specials: string[], rel: string): void {
  const st = fs.lstatSync(from);
  if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(from), to);
    if (asRoot()) fs.lchownSync(to, st.uid, st.gid);
    return;
  }
  if (st.isDirectory()) {
    fs.mkdirSync(to, { mode: 0o700 });
    for (const n of fs.readdirSync(from).sort()) copyEntry(`${from}/${n}`, `${to}/${n}`, specials, `${rel}/${n}`);
    if (asRoot()) fs.lchownSync(to, st.uid, st.gid);
    fs.chmodSync(to, st.mode & 0o7777);
    fs.utimesSync(to, st.atime, st.mtime);
    return;
  }
  if (!st.isFile()) {
    specials.push(rel);
    return;
  }
  const src = fs.openSync(from, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    const dst = fs.openSync(to, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    try {
      const buf = Buffer.alloc(1024 * 1024);
      for (let off = 0; ; ) {
        const n = fs.readSync(src, buf, 0, buf.length, off);
        if (n === 0) break;
        for (let w = 0; w < n; ) w += fs.writeSync(dst, buf, w, n - w);
        off += n;
      }
      if (asRoot()) fs.fchownSync(dst, st.uid, st.gid);
      fs.fchmodSync(dst, st.mode & 0o7777);
      fs.futimesSync(dst, st.atime, st.mtime);
    } finally {
      fs.closeSync(dst);
    }
  } finally {
    fs.closeSync(src);
  }
}

export interface SnapshotResult {
  /** The snapshot folder's name, straight under the state dir. */
  snapshot: string;
  /** Top-level entries the owner could not copy (a root-made 0600 file): the backup has them. */
  skipped: string[];
  /** Links are copied as links; special files (FIFOs, sockets) are not copied. */
  specialFiles: string[];
}

/** Space needed vs free, in kB, when the volume has not the room (nothing was made). */
export interface NoSpace {
  needKb: number;
  freeKb: number;
}

export function snapshotState(root: string, notSnapshotted: string[]): SnapshotResult {
  if (!fs.lstatSync(root).isDirectory()) throw notADirectory(root);
  const entries = gatewayEntries(root, notSnapshotted);
  // 1. room for the copy, or nothing is made: a margin of 1/8 + 1 MB (the new gateway writes its own store on the same volume)
  const needKb = entries.reduce((kb, n) => kb + diskKb(`${root}/${n}`), 0);
  const fsStat = fs.statfsSync(root);
  const freeKb = Math.floor((fsStat.bavail * fsStat.bsize) / 1024);
  if (needKb + (needKb >> 3) + 1024 > freeKb) throw new AgentFailure(`__NOSPACE=${needKb} ${freeKb}`, AGENT_STATUS.noSpace);
  // 2. the copy
  const dir = fs.mkdtempSync(`${root}/${SNAPSHOT_PREFIX}`);
  const skipped: string[] = [];
  const specialFiles: string[] = [];
  for (const n of entries) {
    try {
      copyEntry(`${root}/${n}`, `${dir}/${n}`, specialFiles, n);
    } catch {
      fs.rmSync(`${dir}/${n}`, { recursive: true, force: true });
      skipped.push(printable(n));
    }
  }
  return { snapshot: dir.slice(root.length + 1), skipped, specialFiles: specialFiles.map(printable) };
}

/**
 * Holds the newer gateway: the watchdog's hold file (written under a fresh name, then renamed over,
 * never through a link), then SIGSTOP to each process whose cwd is the package dir and whose command
 * line runs `<entry> gateway`. Returns the stopped pids. Processes of other users are not ours to stop
 * (kill fails: skipped).
 */
export function holdGateway(root: string, hold: GatewayHold): number[] {
  if (hold.holdPath) writeHoldFile(root, hold.holdPath);
  const held: number[] = [];
  const proc = procRoot();
  for (const name of fs.readdirSync(proc)) {
    if (!/^[0-9]+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readlinkSync(`${proc}/${name}/cwd`) !== hold.packageDir) continue;
      const words = fs.readFileSync(`${proc}/${name}/cmdline`, 'utf8').split('\0').join(' ');
      if (!words.includes(`${hold.entry} gateway`)) continue;
      process.kill(Number(name), 'SIGSTOP');
      held.push(Number(name));
    } catch {
      /* gone meanwhile, or not ours to read or stop */
    }
  }
  return held;
}

/**
 * `<root>/<holdPath>`: a relative path of plain names, each folder on the way a real folder (made
 * when missing), never a link; refused otherwise.
 */
function holdFileUnder(root: string, holdPath: string): string {
  const parts = holdPath.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new AgentFailure(`${printable(holdPath)} is not a path under the state dir`, AGENT_STATUS.refused);
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = `${dir}/${part}`;
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (!st) fs.mkdirSync(dir, { mode: 0o755 });
    else if (!st.isDirectory()) throw new AgentFailure(`${printable(dir)} is not a folder (a link is never followed)`, AGENT_STATUS.refused);
  }
  return `${dir}/${parts.at(-1)}`;
}

/** Written under a fresh name, then renamed over the hold file (a link there is replaced, never followed). */
function writeHoldFile(root: string, holdPath: string): void {
  const file = holdFileUnder(root, holdPath);
  const temp = fs.mkdtempSync(`${file.slice(0, file.lastIndexOf('/'))}/.clawdfly-hold-`);
  fs.writeFileSync(`${temp}/hold`, 'rollback: the newer gateway is held while the state it replaced is put back\n', { flag: 'wx', mode: 0o644 });
  fs.renameSync(`${temp}/hold`, file);
  fs.rmdirSync(temp);
}

/** Puts the snapshot's entries back; the newer gateway's go aside. Returns the aside folder's name. */
export function restoreSnapshot(root: string, snapshot: string, notSnapshotted: string[], hold?: GatewayHold): { aside: string; held: number[] } {
  requireOurs(snapshot, SNAPSHOT_PREFIX);
  const from = `${root}/${snapshot}`;
  if (!fs.lstatSync(from, { throwIfNoEntry: false })?.isDirectory()) throw new AgentFailure(`${snapshot} is not on the volume`, AGENT_STATUS.missing);
  const held = hold ? holdGateway(root, hold) : [];
  const aside = fs.mkdtempSync(`${root}/${ASIDE_PREFIX}`);
  for (const n of gatewayEntries(root, notSnapshotted)) fs.renameSync(`${root}/${n}`, `${aside}/${n}`);
  for (const n of fs.readdirSync(from).sort()) fs.renameSync(`${from}/${n}`, `${root}/${n}`);
  fs.rmdirSync(from);
  return { aside: aside.slice(root.length + 1), held };
}

/**
 * Removes the newer gateway's files set aside by a rollback, and `ownEntries` (top-level names only
 * the newer gateway writes) it wrote again meanwhile.
 */
export function discardAside(root: string, aside: string, ownEntries: string[], holdPath?: string): { removed: string[] } {
  requireOurs(aside, ASIDE_PREFIX);
  // the hold the restore set: the gateway now running is the verified older one (unlink removes a link, never its target)
  if (holdPath) {
    const file = holdFileUnder(root, holdPath);
    if (fs.lstatSync(file, { throwIfNoEntry: false })) fs.unlinkSync(file);
  }
  const removed: string[] = [];
  for (const n of ownEntries) {
    if (n === '' || n === '.' || n === '..' || n.includes('/')) continue;
    if (fs.lstatSync(`${root}/${n}`, { throwIfNoEntry: false })) {
      fs.rmSync(`${root}/${n}`, { recursive: true, force: true });
      removed.push(n);
    }
  }
  if (fs.lstatSync(`${root}/${aside}`, { throwIfNoEntry: false })?.isDirectory()) fs.rmSync(`${root}/${aside}`, { recursive: true, force: true });
  return { removed };
}

/** Removes a snapshot no release needs (gone already: nothing to do). */
export function dropSnapshot(root: string, snapshot: string): { dropped: boolean } {
  requireOurs(snapshot, SNAPSHOT_PREFIX);
  const abs = `${root}/${snapshot}`;
  if (!fs.lstatSync(abs, { throwIfNoEntry: false })?.isDirectory()) return { dropped: false };
  fs.rmSync(abs, { recursive: true, force: true });
  return { dropped: true };
}
