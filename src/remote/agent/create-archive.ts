/**
 * Making a state archive (`backup` on the machine, and the image's off-site uploader, which
 * require()s the agent bundle and calls createArchive): every file of the state dir as one stable
 * read, every SQLite database as a snapshot made through SQLite, the manifest last.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { EXCLUDED_PREFIXES, FORMAT, MANIFEST_NAME, type Manifest } from './archive.js';
import { AgentFailure, notADirectory } from './failure.js';
import { openPlain, readWhole, sameStat, walk } from './files.js';
import { AGENT_STATUS, type BackupMeta } from './protocol.js';
import { findDatabases, makeScratch, snapshotDatabase, sqlite, SQLITE_TRIES, type SqliteApi } from './sqlite.js';
import { END_OF_ARCHIVE, memberHeader, padding } from './tar.js';

/** Files up to this size are read whole (so a changed file can be re-read before any byte is sent). */
const WHOLE_READ_MAX = 64 * 1024 * 1024;
const READ_TRIES = 5;
/** A file whose logical size passes this and is over 4× its allocated blocks is sparse: refused, never read as zeros. */
const SPARSE_MIN_BYTES = 64 * 1024 * 1024;
const SPARSE_RATIO = 4;

type Write = (buf: Buffer) => Promise<void>;

export interface CreateArchiveOptions {
  /** Called once the walk is done: the bytes and files that will be read. */
  onTotal?: (bytes: number, files: number) => void;
  /** Where a scratch dir is made, so a signal handler can remove it. */
  onScratch?: (dir: string | null) => void;
}

/** Streams `size` bytes of an open file as one member (zeros if it shrank); returns its sha256 and whether it fell short. */
async function streamMember(write: Write, fd: number, path: string, size: number, st: fs.Stats): Promise<{ sha256: string; short: boolean }> {
  const hash = createHash('sha256');
  await write(memberHeader(path, { size, mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtimeMs / 1000 }));
  const chunk = Buffer.alloc(1024 * 1024);
  let off = 0;
  while (off < size) {
    const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, size - off), off);
    if (n === 0) break;
    const part = Buffer.from(chunk.subarray(0, n));
    hash.update(part);
    await write(part);
    off += n;
  }
  if (off < size) {
    const zeros = Buffer.alloc(size - off);
    hash.update(zeros);
    await write(zeros);
  }
  await write(padding(size));
  return { sha256: hash.digest('hex'), short: off < size };
}

/**
 * Why a file is refused as sparse (null when it is not): a `truncate -s 2G` file would be read as
 * 2 GB of zeros, and a restore would write them all (holes are not recorded).
 */
export function sparseReason(st: fs.Stats): string | null {
  const allocated = (st.blocks || 0) * 512;
  if (st.size < SPARSE_MIN_BYTES || st.size <= allocated * SPARSE_RATIO) return null;
  const mb = (n: number) => `${Math.round(n / 1024 / 1024)} MB`;
  return `sparse file: ${mb(st.size)} long, ${mb(allocated)} on disk (holes are not copied)`;
}

/** One plain file as it is on the volume (read whole and re-read while it changes, or streamed when big). */
async function writePlainFile(write: Write, manifest: Manifest, path: string, fd: number, opened: fs.Stats): Promise<void> {
  let st = opened;
  if (st.size <= WHOLE_READ_MAX) {
    let data: Buffer = Buffer.alloc(0);
    let stable = false;
    for (let i = 0; i < READ_TRIES && !stable; i++) {
      if (i > 0) st = fs.fstatSync(fd);
      data = readWhole(fd, st.size);
      stable = data.length === st.size && sameStat(st, fs.fstatSync(fd));
    }
    if (!stable) manifest.changedWhileRead.push(path);
    const sha256 = createHash('sha256').update(data).digest('hex');
    await write(memberHeader(path, { size: data.length, mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtimeMs / 1000 }));
    await write(data);
    await write(padding(data.length));
    manifest.files.push({ path, size: data.length, sha256, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) });
    return;
  }
  // Too big to hold: streamed in the size it had when opened (a growing log keeps its first part).
  const { sha256, short } = await streamMember(write, fd, path, st.size, st);
  if (short || !sameStat(st, fs.fstatSync(fd))) manifest.changedWhileRead.push(path);
  manifest.files.push({ path, size: st.size, sha256, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) });
}

/**
 * One database: snapshotted through SQLite into the scratch dir, the copy streamed under the live
 * file's name, mode and mtime, then deleted. Its -wal/-shm/-journal are never copied.
 */
async function writeDatabase(write: Write, manifest: Manifest, api: SqliteApi, root: string, path: string, siblings: string[], liveSt: fs.Stats, scratch: string): Promise<void> {
  const row = { path, method: null as string | null, siblingsLeftOut: siblings };
  (manifest.sqlite ??= []).push(row);
  const dest = `${scratch}/${randomBytes(8).toString('hex')}.sqlite`;
  let lastError: unknown;
  for (let i = 0; i < SQLITE_TRIES && !row.method; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** i));
    try {
      row.method = await snapshotDatabase(api, `${root}/${path}`, dest);
    } catch (e) {
      lastError = e;
      for (const s of ['', '-wal', '-shm', '-journal']) fs.rmSync(dest + s, { force: true });
    }
  }
  if (!row.method) throw new AgentFailure(`${path}: no consistent copy could be made through SQLite (${lastError instanceof Error ? lastError.message : String(lastError)})`, AGENT_STATUS.sqliteFailed);
  // The live file must still be the one we walked (a link put in its place is never read through).
  const now = fs.lstatSync(`${root}/${path}`, { throwIfNoEntry: false });
  if (!now || !now.isFile() || now.ino !== liveSt.ino) throw new AgentFailure(`${path} was replaced while it was copied; run the backup again`, AGENT_STATUS.sqliteFailed);
  const fd = fs.openSync(dest, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const size = fs.fstatSync(fd).size;
    const { sha256 } = await streamMember(write, fd, path, size, now);
    manifest.files.push({ path, size, sha256, mode: now.mode & 0o7777, mtime: Math.floor(now.mtimeMs / 1000), snapshot: row.method });
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dest, { force: true });
  }
}

/**
 * Writes the gzip'd archive of `root` to `out` (not ended: the caller owns it). Throws an
 * AgentFailure (status notDir, sqliteFailed) with the archive cut short.
 */
export async function createArchive(root: string, meta: BackupMeta, out: Writable, opts: CreateArchiveOptions = {}): Promise<Manifest> {
  const excludes = meta.excludes ?? [];
  const started = Date.now();
  if (!fs.lstatSync(root).isDirectory()) throw notADirectory(root);
  const tree = walk(root, excludes);
  const databases = findDatabases(root, tree.files);
  const api = databases.size ? sqlite() : null;
  // Without node:sqlite (an old Node) the files go as today, named in the manifest as such.
  const leftOut = new Set(api ? [...databases.values()].flat() : []);
  const total = tree.files.reduce((n, f) => n + (leftOut.has(f.path) || sparseReason(f.st) ? 0 : f.st.size), 0);
  opts.onTotal?.(total, tree.files.length - leftOut.size);
  let scratch: string | null = null;
  const dropScratch = () => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    scratch = null;
    opts.onScratch?.(null);
  };
  const gzip = createGzip({ level: 6 });
  gzip.pipe(out, { end: false });
  const write: Write = (buf) =>
    new Promise((resolve) => {
      if (gzip.write(buf)) resolve();
      else gzip.once('drain', resolve);
    });
  const manifest: Manifest = {
    format: FORMAT,
    app: meta.app ?? '',
    runtime: meta.runtime ?? '',
    machine: meta.machine,
    image: meta.image,
    stateDir: meta.stateDir,
    createdAt: new Date().toISOString(),
    excluded: meta.excludedLabels ?? excludes.map((e) => (e.startsWith('re:') ? e.slice(3) : `${e}/`)).concat(EXCLUDED_PREFIXES.map((p) => `${p}*`)),
    files: [],
    dirs: [],
    /** The SQLite databases: each snapshotted through SQLite (method), its -wal/-shm/-journal not copied. */
    sqlite: [],
    skipped: tree.skipped,
    changedWhileRead: [],
    vanished: [],
  };
  if (databases.size && !api) {
    manifest.sqliteUnavailable = `node:sqlite is not available on Node ${process.version}: ${databases.size} database(s) copied as files, which is not a consistent copy of a database in use`;
    for (const path of databases.keys()) manifest.sqlite!.push({ path, method: 'file-copy', siblingsLeftOut: [] });
  }
  for (const d of tree.dirs) {
    manifest.dirs.push({ path: d.path, mode: d.st.mode & 0o7777 });
    await write(memberHeader(`${d.path}/`, { type: '5', mode: d.st.mode, uid: d.st.uid, gid: d.st.gid, mtime: d.st.mtimeMs / 1000 }));
  }
  try {
    for (const f of tree.files) {
      if (leftOut.has(f.path)) continue;
      const opened = openPlain(`${root}/${f.path}`);
      if (opened.error !== undefined) {
        if (opened.gone) manifest.vanished.push(f.path);
        else manifest.skipped.push({ path: f.path, reason: opened.error });
        continue;
      }
      try {
        const sparse = sparseReason(opened.st);
        if (api && databases.has(f.path)) {
          const dir: string = scratch ?? makeScratch(root);
          if (!scratch) opts.onScratch?.((scratch = dir));
          await writeDatabase(write, manifest, api, root, f.path, databases.get(f.path)!, opened.st, dir);
        } else if (sparse) manifest.skipped.push({ path: f.path, reason: sparse });
        else await writePlainFile(write, manifest, f.path, opened.fd, opened.st);
      } finally {
        fs.closeSync(opened.fd);
      }
    }
  } finally {
    dropScratch();
  }
  manifest.durationMs = Date.now() - started;
  const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
  await write(memberHeader(MANIFEST_NAME, { size: body.length, mode: 0o600, mtime: Date.now() / 1000 }));
  await write(body);
  await write(padding(body.length));
  await write(END_OF_ARCHIVE);
  // every compressed byte handed to `out` (the readable side's end), not only accepted by gzip
  const flushed = new Promise<void>((resolve) => gzip.once('end', () => resolve()));
  gzip.end();
  await flushed;
  gzip.unpipe(out);
  return manifest;
}
