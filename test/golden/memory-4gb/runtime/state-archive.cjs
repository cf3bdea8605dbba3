/*
 * clawdfly's state archive: a gzip'd POSIX tar of the gateway's state dir, with a manifest
 * (`.clawdfly-backup.json`, the LAST member) that lists every file's path, size and sha256 as it
 * was written into the archive.
 *
 * This one file runs in two places:
 *   - on the machine, sent base64url-encoded in the `ssh console -C` argv and run with
 *     `node -e` as the state dir's OWNER (never root): modes `backup`, `restore`;
 *   - locally, loaded with require() by clawdfly to read and verify an archive (`exports`).
 * Node core modules only (the image has Node; it has no guarantee of GNU tar options).
 *
 * Rules it follows on the machine (the state dir is writable by the gateway user and whatever an
 * agent runs as that user):
 *   - never follows a symlink: the walk uses lstat, files are opened with O_NOFOLLOW, symlinks and
 *     special files are left out and named in the manifest (`skipped`);
 *   - no fixed temp names: the restore extracts into `mkdtemp(<dir>/.clawdfly-restore-)`;
 *   - each file is one stable read: read, then fstat again; a file that changed while read is read
 *     again (up to 5 times), and named in `changedWhileRead` if it never held still;
 *   - never mixes old and new files: the archive is extracted and checked in full in the fresh
 *     temp dir, then the current top-level entries are moved into `<dir>/.pre-restore-<stamp>-*`
 *     and the new ones moved in (renames within one filesystem); any failure moves them back;
 *   - links and special files (which no archive holds) are put back in place after the swap, not
 *     deleted with the replaced tree; the manifest names each with its target.
 */
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const crypto = require('crypto');

const MANIFEST_NAME = '.clawdfly-backup.json';
const FORMAT = 'clawdfly-backup/1';
/** Top-level names of the state dir that are never archived nor replaced: caches, locks, our own work dirs. */
const EXCLUDED_PREFIXES = ['.pre-restore-', '.clawdfly-restore-', '.clawdfly-snapshot-'];
/** Top-level names that belong to the filesystem, not the gateway: ext4's root-owned `lost+found` (a restore could never move it aside). */
const FILESYSTEM_NAMES = ['lost+found'];
/** Files up to this size are read whole (so a changed file can be re-read before any byte is sent). */
const WHOLE_READ_MAX = 64 * 1024 * 1024;
const READ_TRIES = 5;
/** What reading an archive holds in memory at most: a pax header, the manifest, the number of members. */
const MAX_PAX_BYTES = 1024 * 1024;
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
const MAX_MEMBERS = 1_000_000;
/** A file whose logical size passes this and is over 4× its allocated blocks is sparse: refused, never read as zeros. */
const SPARSE_MIN_BYTES = 64 * 1024 * 1024;
const SPARSE_RATIO = 4;
/** Remote exit statuses clawdfly maps to errors. */
const STATUS = { damaged: 4, notDir: 5, swapFailed: 6, refused: 7, sqliteFailed: 8 };

// ---------------------------------------------------------------- tar (POSIX ustar + pax)

function octal(value, width) {
  const s = value.toString(8);
  return s.length >= width ? null : s.padStart(width - 1, '0') + '\0';
}

function paxRecord(key, value) {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  for (;;) {
    const total = String(len).length + Buffer.byteLength(body);
    if (total === len) break;
    len = total;
  }
  return `${len}${body}`;
}

function header(name, { size = 0, mode = 0o644, uid = 0, gid = 0, mtime = 0, type = '0' }) {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write(octal(mode & 0o7777, 8), 100, 'ascii');
  b.write(octal(uid, 8) || octal(0, 8), 108, 'ascii');
  b.write(octal(gid, 8) || octal(0, 8), 116, 'ascii');
  b.write(octal(size, 12) || octal(0, 12), 124, 'ascii');
  b.write(octal(Math.max(0, Math.floor(mtime)), 12) || octal(0, 12), 136, 'ascii');
  b.fill(' ', 148, 156);
  b.write(type, 156, 'ascii');
  b.write('ustar\u000000', 257, 'binary');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(octal(sum, 7), 148, 'ascii');
  b[155] = 0x20;
  return b;
}

/** The header blocks of one member: a pax header first when the name or size does not fit ustar. */
function memberHeader(name, attrs) {
  const blocks = [];
  const long = Buffer.byteLength(name) > 99 || /[^\x20-\x7e]/.test(name);
  const big = attrs.size !== undefined && octal(attrs.size, 12) === null;
  if (long || big) {
    const pax = Buffer.from((long ? paxRecord('path', name) : '') + (big ? paxRecord('size', String(attrs.size)) : ''), 'utf8');
    blocks.push(header('PaxHeader', { size: pax.length, type: 'x', mtime: attrs.mtime }), pax, padding(pax.length));
  }
  blocks.push(header(long ? name.replace(/[^\x20-\x7e]/g, '_').slice(-99) : name, attrs));
  return Buffer.concat(blocks);
}

function padding(size) {
  return Buffer.alloc((512 - (size % 512)) % 512);
}

function parseOctal(buf) {
  const s = buf.toString('ascii').replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new ArchiveError(`bad number field "${s}" in a tar header`);
  return parseInt(s, 8);
}

class ArchiveError extends Error {}

/**
 * A streaming tar reader: push() raw (gunzipped) bytes; it calls onEntry(entry) at each member
 * (entry.name, type, size, mode, mtime), onData(chunk) with its content, onEntryEnd() after it.
 * end() throws when the archive stopped before its end-of-archive blocks.
 */
class TarReader {
  constructor(handlers) {
    this.h = handlers;
    this.buf = Buffer.alloc(0);
    this.state = 'header';
    this.remaining = 0;
    this.pad = 0;
    this.pax = null;
    this.paxBody = null;
    this.done = false;
  }

  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.done) { this.buf = Buffer.alloc(0); return; }
      if (this.state === 'data') {
        if (this.remaining > 0) {
          if (!this.buf.length) return;
          const n = Math.min(this.remaining, this.buf.length);
          const part = this.buf.subarray(0, n);
          this.buf = this.buf.subarray(n);
          this.remaining -= n;
          if (this.paxBody) this.paxBody.push(part);
          else this.h.onData(part);
          if (this.remaining > 0) return;
        }
        if (this.buf.length < this.pad) return;
        this.buf = this.buf.subarray(this.pad);
        this.state = 'header';
        if (this.paxBody) {
          this.pax = parsePax(Buffer.concat(this.paxBody));
          this.paxBody = null;
        } else this.h.onEntryEnd();
        continue;
      }
      if (this.buf.length < 512) return;
      const block = this.buf.subarray(0, 512);
      this.buf = this.buf.subarray(512);
      if (block.every((x) => x === 0)) { this.done = true; continue; }
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
      if (parseOctal(block.subarray(148, 156)) !== sum) throw new ArchiveError('a tar header checksum does not match (damaged archive)');
      const type = String.fromCharCode(block[156] || 0x30);
      let size = parseOctal(block.subarray(124, 136));
      const prefix = block.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
      let name = block.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
      if (prefix) name = `${prefix}/${name}`;
      if (type === 'x' || type === 'g') {
        if (size > MAX_PAX_BYTES) throw new ArchiveError(`a pax header of ${size} bytes (over ${MAX_PAX_BYTES / 1024 / 1024} MB): not a clawdfly backup, refused`);
        this.state = 'data';
        this.remaining = size;
        this.pad = (512 - (size % 512)) % 512;
        this.paxBody = [];
        continue;
      }
      if (this.pax) {
        if (this.pax.path !== undefined) name = this.pax.path;
        if (this.pax.size !== undefined) size = Number(this.pax.size);
        this.pax = null;
      }
      const entry = { name, type, size, mode: parseOctal(block.subarray(100, 108)), mtime: parseOctal(block.subarray(136, 148)) };
      this.h.onEntry(entry);
      this.state = 'data';
      this.remaining = type === '0' || type === '7' ? size : 0;
      this.pad = (512 - (this.remaining % 512)) % 512;
    }
  }

  end() {
    if (!this.done) throw new ArchiveError('the archive ends early (truncated: no end-of-archive marker)');
  }
}

/** `<len> <key>=<value>\n` records, read by byte offset (one pass: no copy of the rest per record). */
function parsePax(buf) {
  const out = {};
  let at = 0;
  while (at < buf.length) {
    const space = buf.indexOf(0x20, at);
    if (space < 0 || space - at > 20) break;
    const lenText = buf.toString('ascii', at, space);
    if (!/^\d+$/.test(lenText)) break;
    const len = Number(lenText);
    if (len <= space - at || at + len > buf.length) break;
    const rec = buf.toString('utf8', space + 1, at + len);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1).replace(/\n$/, '');
    at += len;
  }
  return out;
}

// ---------------------------------------------------------------- paths

/** A member name we accept: relative, no `.`/`..`/empty segments, no NUL, not an excluded top-level name. */
function safeRelative(name) {
  const clean = name.replace(/\/+$/, '');
  if (clean === '' || clean.startsWith('/') || clean.includes('\0')) return null;
  const parts = clean.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return null;
  return clean;
}

/** `excludes`: top-level names, or `re:<regex source>` for a family of names (the gateway's lock files). */
function excludedTop(name, excludes) {
  return excludes.some((e) => (e.startsWith('re:') ? new RegExp(e.slice(3)).test(name) : e === name)) || EXCLUDED_PREFIXES.some((p) => name.startsWith(p)) || FILESYSTEM_NAMES.includes(name) || name === MANIFEST_NAME;
}

// ---------------------------------------------------------------- reading an archive (local + restore)

/**
 * Reads a whole archive stream and checks it against its manifest. `onFile(entry)` may return a
 * sink {write(chunk), close()} for the file's bytes (restore extracts with it).
 * Returns { manifest, files: [{path,size,sha256,mode,mtime}], dirs, archiveSha256, bytes }.
 */
function readArchive(input, { onFile, onDir } = {}) {
  return new Promise((resolve, reject) => {
    const whole = crypto.createHash('sha256');
    let bytes = 0;
    const files = [];
    const dirs = [];
    let manifestChunks = null;
    let manifest = null;
    let current = null;
    let failed = false;
    const fail = (error) => {
      if (failed) return;
      failed = true;
      try { current && current.sink && current.sink.close(); } catch { /* already failing */ }
      reject(error instanceof ArchiveError ? error : new ArchiveError(error && error.message ? error.message : String(error)));
    };
    const reader = new TarReader({
      onEntry(entry) {
        if (manifest) throw new ArchiveError(`a member follows the manifest (${entry.name}): the manifest must be last`);
        if (files.length + dirs.length >= MAX_MEMBERS) throw new ArchiveError(`the archive holds over ${MAX_MEMBERS} members: not a clawdfly backup, refused`);
        if (entry.name === MANIFEST_NAME && entry.type === '0') {
          if (entry.size > MAX_MANIFEST_BYTES) throw new ArchiveError(`its manifest is ${entry.size} bytes (over ${MAX_MANIFEST_BYTES / 1024 / 1024} MB): not a clawdfly backup, refused`);
          manifestChunks = [];
          current = null;
          return;
        }
        const path = safeRelative(entry.name);
        if (path === null) throw new ArchiveError(`unsafe member name in the archive: ${JSON.stringify(entry.name)}`);
        if (entry.type === '5') {
          dirs.push({ path, mode: entry.mode & 0o7777, mtime: entry.mtime });
          if (onDir) onDir({ path, mode: entry.mode & 0o7777 });
          current = null;
          return;
        }
        if (entry.type !== '0' && entry.type !== '7') throw new ArchiveError(`the archive holds a link or special file (${path}, type ${entry.type}): refused`);
        current = { path, size: entry.size, mode: entry.mode & 0o7777, mtime: entry.mtime, hash: crypto.createHash('sha256'), got: 0, sink: onFile ? onFile({ path, size: entry.size, mode: entry.mode & 0o7777, mtime: entry.mtime }) : null };
      },
      onData(chunk) {
        if (manifestChunks) { manifestChunks.push(chunk); return; }
        current.hash.update(chunk);
        current.got += chunk.length;
        if (current.sink) current.sink.write(chunk);
      },
      onEntryEnd() {
        if (manifestChunks) {
          try { manifest = JSON.parse(Buffer.concat(manifestChunks).toString('utf8')); } catch { throw new ArchiveError('the manifest is not valid JSON'); }
          manifestChunks = null;
          return;
        }
        if (!current) return;
        if (current.sink) current.sink.close();
        files.push({ path: current.path, size: current.got, sha256: current.hash.digest('hex'), mode: current.mode, mtime: current.mtime });
        current = null;
      },
    });
    const gunzip = zlib.createGunzip();
    gunzip.on('data', (chunk) => { if (!failed) try { reader.push(chunk); } catch (e) { fail(e); } });
    gunzip.on('error', (e) => fail(new ArchiveError(/unexpected end/i.test(e.message) ? 'the archive ends early (truncated gzip stream)' : `the archive is not a valid gzip stream (${e.message})`)));
    gunzip.on('end', () => {
      if (failed) return;
      try {
        reader.end();
        if (!manifest) throw new ArchiveError(`the archive has no manifest (${MANIFEST_NAME}): not a clawdfly backup, or cut short`);
        const problems = compareToManifest(manifest, files);
        if (problems.length) throw new ArchiveError(`the archive does not match its manifest: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ''}`);
        resolve({ manifest, files, dirs, archiveSha256: whole.digest('hex'), bytes });
      } catch (e) { fail(e); }
    });
    input.on('data', (chunk) => { whole.update(chunk); bytes += chunk.length; });
    input.on('error', (e) => fail(e));
    input.pipe(gunzip);
  });
}

/** Every difference between a manifest and the files actually read, as short sentences. */
function compareToManifest(manifest, files) {
  const problems = [];
  if (!manifest || manifest.format !== FORMAT || !Array.isArray(manifest.files)) return [`the manifest is not a ${FORMAT} manifest`];
  const listed = new Map();
  for (const f of manifest.files) {
    if (!f || typeof f.path !== 'string' || typeof f.sha256 !== 'string' || typeof f.size !== 'number') { problems.push('a manifest row is malformed'); continue; }
    if (listed.has(f.path)) problems.push(`${f.path} is listed twice`);
    listed.set(f.path, f);
  }
  const seen = new Set();
  for (const f of files) {
    const row = listed.get(f.path);
    if (seen.has(f.path)) problems.push(`${f.path} appears twice in the archive`);
    seen.add(f.path);
    if (!row) { problems.push(`${f.path} is in the archive but not in the manifest`); continue; }
    if (row.size !== f.size) problems.push(`${f.path}: ${f.size} bytes, the manifest says ${row.size}`);
    else if (row.sha256 !== f.sha256) problems.push(`${f.path}: sha256 differs from the manifest`);
  }
  for (const path of listed.keys()) if (!seen.has(path)) problems.push(`${path} is in the manifest but not in the archive`);
  return problems;
}

// ---------------------------------------------------------------- walking the state dir

/** Every dir and regular file under `root` (lstat only), minus excluded top-level names. */
function walk(root, excludes) {
  const dirs = [];
  const files = [];
  const skipped = [];
  const visit = (rel) => {
    const abs = rel ? `${root}/${rel}` : root;
    let names;
    try { names = fs.readdirSync(abs); } catch (e) { skipped.push({ path: rel || '.', reason: e.code || 'unreadable' }); return; }
    names.sort();
    for (const name of names) {
      if (!rel && excludedTop(name, excludes)) continue;
      const path = rel ? `${rel}/${name}` : name;
      let st;
      try { st = fs.lstatSync(`${root}/${path}`); } catch { continue; /* gone since readdir */ }
      if (st.isDirectory()) { dirs.push({ path, st }); visit(path); }
      else if (st.isFile()) files.push({ path, st });
      else skipped.push(st.isSymbolicLink() ? { path, reason: 'symlink', target: linkTarget(`${root}/${path}`) } : { path, reason: 'special file' });
    }
  };
  visit('');
  return { dirs, files, skipped };
}

/** What a link points at (read, never followed), for the manifest: control characters shown as '?'. */
function linkTarget(abs) {
  try { return fs.readlinkSync(abs).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 4096); } catch { return undefined; }
}

function sameStat(a, b) {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

/**
 * Opens a regular file without following a link. `{ error }` when it vanished (ENOENT), became a
 * link (ELOOP) or something else, or is not readable by us (EACCES: written there by root).
 */
function openPlain(abs) {
  let fd;
  try { fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | (fs.constants.O_NONBLOCK || 0)); } catch (e) {
    return { error: e.code === 'ELOOP' ? 'symlink' : e.code === 'EACCES' ? 'not readable by the owner of the state dir' : e.code || 'unreadable', gone: e.code === 'ENOENT' };
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) { fs.closeSync(fd); return { error: 'special file', gone: false }; }
  return { fd, st };
}

function readWhole(fd, size) {
  const buf = Buffer.alloc(size);
  let off = 0;
  while (off < size) {
    const n = fs.readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return off === size ? buf : buf.subarray(0, off);
}

// ---------------------------------------------------------------- SQLite databases (on the machine)

/** The first 16 bytes of every SQLite database file (https://sqlite.org/fileformat.html §1.3). */
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
/** The first 4 bytes of a WAL file (big-endian 0x377f0682 or 0x377f0683). */
const WAL_MAGICS = [0x377f0682, 0x377f0683];
/** Files that belong to a database and are never copied raw: its snapshot holds what they hold. */
const SQLITE_SIBLING_SUFFIXES = ['-wal', '-shm', '-journal'];
/** Pages per backup step: all of them, so one step is one read transaction (a consistent snapshot that never restarts). */
const SQLITE_ONE_STEP = 2 ** 30;
const SQLITE_TRIES = 4;
const SQLITE_BUSY_MS = 10_000;

/** The first `n` bytes of a regular file, opened without following a link (null when unreadable or shorter). */
function headBytes(abs, n) {
  const opened = openPlain(abs);
  if (opened.error) return null;
  try {
    if (opened.st.size < n) return null;
    const buf = Buffer.alloc(n);
    return fs.readSync(opened.fd, buf, 0, n, 0) === n ? buf : null;
  } finally { fs.closeSync(opened.fd); }
}

/**
 * The SQLite databases among the walked files, found by content, whoever made them: a file that
 * starts with the SQLite magic, or an empty one whose `-wal` holds its pages (a fresh WAL database
 * before its first checkpoint). Returns the databases and, for each, its siblings in the tree.
 */
function findDatabases(root, files) {
  const byPath = new Set(files.map((f) => f.path));
  const databases = new Map();
  for (const f of files) {
    if (SQLITE_SIBLING_SUFFIXES.some((s) => f.path.endsWith(s))) continue;
    let isDb = false;
    if (f.st.size >= 512) {
      const head = headBytes(`${root}/${f.path}`, SQLITE_MAGIC.length);
      isDb = head !== null && head.equals(SQLITE_MAGIC);
    } else if (f.st.size === 0 && byPath.has(`${f.path}-wal`)) {
      const head = headBytes(`${root}/${f.path}-wal`, 4);
      isDb = head !== null && WAL_MAGICS.includes(head.readUInt32BE(0));
    }
    if (isDb) databases.set(f.path, SQLITE_SIBLING_SUFFIXES.map((s) => f.path + s).filter((p) => byPath.has(p)));
  }
  return databases;
}

let sqliteApi;
/** node:sqlite, or null on a Node without it (before 22.5, or 22.5–22.12 without --experimental-sqlite). */
function sqlite() {
  if (sqliteApi === undefined) {
    const warn = process.emitWarning;
    process.emitWarning = () => {}; // "SQLite is an experimental feature" on Node 22 would land in the CLI's stderr
    try { sqliteApi = require('node:sqlite'); } catch { sqliteApi = null; } finally { process.emitWarning = warn; }
  }
  return sqliteApi;
}

function openDatabase(api, abs, readOnly) {
  const db = new api.DatabaseSync(abs, readOnly ? { readOnly: true } : {});
  db.exec(`PRAGMA busy_timeout = ${SQLITE_BUSY_MS}`);
  return db;
}

/**
 * A consistent copy of the live database at `abs`, written to `dest` (in our scratch dir) through
 * SQLite: the online backup API in one step (Node >= 22.16 / 24), else `VACUUM INTO`. Both read
 * in one read transaction: the copy is the database as of one commit, whatever writes meanwhile
 * (WAL readers never block the writer). The copy is then checked with `PRAGMA quick_check`.
 */
async function snapshotDatabase(api, abs, dest) {
  let db;
  try { db = openDatabase(api, abs, true); } catch { db = openDatabase(api, abs, false); /* a WAL database without its -shm yet */ }
  let method;
  try {
    if (typeof api.backup === 'function') {
      await api.backup(db, dest, { rate: SQLITE_ONE_STEP });
      method = 'sqlite-online-backup';
    } else {
      db.exec(`VACUUM INTO '${dest.replace(/'/g, "''")}'`);
      method = 'vacuum-into';
    }
  } finally { db.close(); }
  const copy = new api.DatabaseSync(dest);
  let check;
  try {
    // A standalone file: the live database's journal mode stays (the gateway sets its own at open).
    check = copy.prepare('PRAGMA quick_check').all().map((row) => Object.values(row)[0]).join('; ');
  } finally { copy.close(); }
  if (check !== 'ok') throw new Error(`the copy fails PRAGMA quick_check: ${check.slice(0, 200)}`);
  return method;
}

/** A fresh private scratch dir for snapshots (mkdtemp: 0700, a name nobody can guess), in $TMPDIR, else on the volume. */
function makeScratch(root) {
  try { return fs.mkdtempSync(`${require('os').tmpdir().replace(/\/+$/, '')}/clawdfly-sqlite-`); } catch {
    return fs.mkdtempSync(`${root}/.clawdfly-snapshot-`);
  }
}

// ---------------------------------------------------------------- backup (on the machine)

/** Streams `size` bytes of an open file as one member (zeros if it shrank); returns its sha256 and whether it fell short. */
async function streamMember(write, fd, path, size, st) {
  const hash = crypto.createHash('sha256');
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
  if (off < size) { const zeros = Buffer.alloc(size - off); hash.update(zeros); await write(zeros); }
  await write(padding(size));
  return { sha256: hash.digest('hex'), short: off < size };
}

/**
 * Why a file is refused as sparse (null when it is not): a `truncate -s 2G` file would be read as
 * 2 GB of zeros, and a restore would write them all (holes are not recorded).
 */
function sparseReason(st) {
  const allocated = (st.blocks || 0) * 512;
  if (st.size < SPARSE_MIN_BYTES || st.size <= allocated * SPARSE_RATIO) return null;
  const mb = (n) => `${Math.round(n / 1024 / 1024)} MB`;
  return `sparse file: ${mb(st.size)} long, ${mb(allocated)} on disk (holes are not copied)`;
}

/** One plain file as it is on the volume (read whole and re-read while it changes, or streamed when big). */
async function writePlainFile(write, manifest, path, fd, opened) {
  let st = opened;
  if (st.size <= WHOLE_READ_MAX) {
    let data;
    let stable = false;
    for (let i = 0; i < READ_TRIES && !stable; i++) {
      if (i > 0) st = fs.fstatSync(fd);
      data = readWhole(fd, st.size);
      const after = fs.fstatSync(fd);
      stable = data.length === st.size && sameStat(st, after);
    }
    if (!stable) manifest.changedWhileRead.push(path);
    const sha256 = crypto.createHash('sha256').update(data).digest('hex');
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
async function writeDatabase(write, manifest, root, path, siblings, liveSt, scratch) {
  const api = sqlite();
  const row = { path, method: null, siblingsLeftOut: siblings };
  manifest.sqlite.push(row);
  const dest = `${scratch}/${crypto.randomBytes(8).toString('hex')}.sqlite`;
  let lastError;
  for (let i = 0; i < SQLITE_TRIES && !row.method; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** i));
    try { row.method = await snapshotDatabase(api, `${root}/${path}`, dest); } catch (e) {
      lastError = e;
      for (const s of ['', '-wal', '-shm', '-journal']) fs.rmSync(dest + s, { force: true });
    }
  }
  if (!row.method) {
    const error = new Error(`${path}: no consistent copy could be made through SQLite (${lastError && lastError.message ? lastError.message : lastError})`);
    error.status = STATUS.sqliteFailed;
    throw error;
  }
  // The live file must still be the one we walked (a link put in its place is never read through).
  const now = fs.lstatSync(`${root}/${path}`, { throwIfNoEntry: false });
  if (!now || !now.isFile() || now.ino !== liveSt.ino) {
    const error = new Error(`${path} was replaced while it was copied; run the backup again`);
    error.status = STATUS.sqliteFailed;
    throw error;
  }
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

async function backup(root, meta) {
  const excludes = meta.excludes || [];
  const started = Date.now();
  const rootSt = fs.lstatSync(root);
  if (!rootSt.isDirectory()) { process.stderr.write(`${root} is not a directory\n`); process.exit(STATUS.notDir); }
  const tree = walk(root, excludes);
  const databases = findDatabases(root, tree.files);
  const api = databases.size ? sqlite() : null;
  // Without node:sqlite (an old Node) the files go as today, named in the manifest as such.
  const leftOut = new Set(api ? [...databases.values()].flat() : []);
  const total = tree.files.reduce((n, f) => n + (leftOut.has(f.path) || sparseReason(f.st) ? 0 : f.st.size), 0);
  process.stderr.write(`__TOTAL ${total} ${tree.files.length - leftOut.size}\n`);
  let scratch = null;
  const dropScratch = () => { if (scratch) { try { fs.rmSync(scratch, { recursive: true, force: true }); } catch { /* best effort */ } scratch = null; } };
  process.once('exit', dropScratch);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(signal, () => { dropScratch(); process.exit(130); });
  const gzip = zlib.createGzip({ level: 6 });
  gzip.pipe(process.stdout);
  const write = (buf) => new Promise((resolve) => { if (gzip.write(buf)) resolve(); else gzip.once('drain', resolve); });
  const manifest = {
    format: FORMAT,
    app: meta.app,
    runtime: meta.runtime,
    machine: meta.machine,
    image: meta.image,
    stateDir: meta.stateDir,
    createdAt: new Date().toISOString(),
    excluded: meta.excludedLabels || excludes.map((e) => (e.startsWith('re:') ? e.slice(3) : `${e}/`)).concat(EXCLUDED_PREFIXES.map((p) => `${p}*`)),
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
    for (const path of databases.keys()) manifest.sqlite.push({ path, method: 'file-copy', siblingsLeftOut: [] });
  }
  for (const d of tree.dirs) {
    manifest.dirs.push({ path: d.path, mode: d.st.mode & 0o7777 });
    await write(memberHeader(`${d.path}/`, { type: '5', mode: d.st.mode, uid: d.st.uid, gid: d.st.gid, mtime: d.st.mtimeMs / 1000 }));
  }
  try {
    for (const f of tree.files) {
      if (leftOut.has(f.path)) continue;
      const opened = openPlain(`${root}/${f.path}`);
      if (opened.error) {
        if (opened.gone) manifest.vanished.push(f.path);
        else manifest.skipped.push({ path: f.path, reason: opened.error });
        continue;
      }
      try {
        const sparse = sparseReason(opened.st);
        if (sparse && !(api && databases.has(f.path))) manifest.skipped.push({ path: f.path, reason: sparse });
        else if (api && databases.has(f.path)) {
          scratch = scratch || makeScratch(root);
          await writeDatabase(write, manifest, root, f.path, databases.get(f.path), opened.st, scratch);
        } else await writePlainFile(write, manifest, f.path, opened.fd, opened.st);
      } finally {
        fs.closeSync(opened.fd);
      }
    }
  } catch (e) {
    dropScratch();
    if (!e || !e.status) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exit(e.status);
  }
  dropScratch();
  manifest.durationMs = Date.now() - started;
  const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
  await write(memberHeader(MANIFEST_NAME, { size: body.length, mode: 0o600, mtime: Date.now() / 1000 }));
  await write(body);
  await write(padding(body.length));
  await write(Buffer.alloc(1024));
  await new Promise((resolve) => { gzip.end(resolve); });
  await new Promise((resolve) => { if (process.stdout.writableNeedDrain) process.stdout.once('drain', resolve); else resolve(); });
}

// ---------------------------------------------------------------- restore (on the machine)

function stamp() {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** Files and dirs created only inside our own fresh temp dir, never through a link. */
function extractor(stage) {
  const made = new Set(['']);
  const ensureDir = (rel, mode = 0o700) => {
    if (made.has(rel)) return;
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    ensureDir(parent);
    const abs = `${stage}/${rel}`;
    try { fs.mkdirSync(abs, { mode: 0o700 }); } catch (e) {
      if (e.code !== 'EEXIST' || !fs.lstatSync(abs).isDirectory()) throw e;
    }
    made.add(rel);
  };
  const dirModes = [];
  return {
    dir({ path, mode }) { ensureDir(path); dirModes.push({ path, mode }); },
    file({ path, mode, mtime }) {
      ensureDir(path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
      const fd = fs.openSync(`${stage}/${path}`, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
      return {
        write(chunk) { let off = 0; while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off); },
        close() { try { fs.fchmodSync(fd, mode & 0o777); fs.futimesSync(fd, mtime, mtime); fs.fsyncSync(fd); } finally { fs.closeSync(fd); } },
      };
    },
    /** Dir modes last (a read-only dir must not stop its own extraction), deepest first. */
    finish() {
      for (const { path, mode } of dirModes.sort((a, b) => b.path.length - a.path.length)) {
        const fd = fs.openSync(`${stage}/${path}`, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
        try { fs.fchmodSync(fd, (mode & 0o777) | 0o700); } finally { fs.closeSync(fd); }
      }
    },
  };
}

/**
 * Links and special files an archive cannot hold (backup names them as skipped): after the swap,
 * each one moved aside with the old tree goes back to its place when the restored tree has a real
 * folder there and nothing of that name (renames only: a link is moved, never followed).
 * Returns { kept: [paths put back], left: [paths that stay in the .pre-restore-* dir] }.
 */
function keepUnarchivable(root, pre, excludes) {
  const kept = [];
  const left = [];
  const old = walk(pre, excludes);
  for (const s of old.skipped) {
    if (s.reason !== 'symlink' && s.reason !== 'special file') continue;
    const parent = s.path.includes('/') ? s.path.slice(0, s.path.lastIndexOf('/')) : '';
    let ok = true;
    // every folder on the way is a real folder of the restored tree (never a link)
    if (parent) {
      let rel = '';
      for (const part of parent.split('/')) {
        rel = rel ? `${rel}/${part}` : part;
        try { if (!fs.lstatSync(`${root}/${rel}`).isDirectory()) { ok = false; break; } } catch { ok = false; break; }
      }
    }
    if (ok) { try { fs.lstatSync(`${root}/${s.path}`); ok = false; } catch (e) { ok = e.code === 'ENOENT'; } }
    if (ok) { try { fs.renameSync(`${pre}/${s.path}`, `${root}/${s.path}`); kept.push(s.path); continue; } catch { /* left below */ } }
    left.push(s.path);
  }
  return { kept, left };
}

async function restore(root, expectedSha256, excludes, tag) {
  const rootSt = fs.lstatSync(root);
  if (!rootSt.isDirectory()) { process.stderr.write(`${root} is not a directory\n`); process.exit(STATUS.notDir); }
  const stage = fs.mkdtempSync(`${root}/.clawdfly-restore-`);
  const removeStage = () => { try { fs.rmSync(stage, { recursive: true, force: true }); } catch { /* best effort */ } };
  let result;
  try {
    const x = extractor(stage);
    result = await readArchive(process.stdin, {
      onDir: (d) => { if (!excludedTop(d.path.split('/')[0], excludes)) x.dir(d); },
      onFile: (f) => {
        if (excludedTop(f.path.split('/')[0], excludes)) throw new ArchiveError(`the archive holds ${f.path}, which a restore never writes`);
        return x.file(f);
      },
    });
    if (result.archiveSha256 !== expectedSha256) throw new ArchiveError(`the upload arrived damaged (sha256 ${result.archiveSha256}, sent ${expectedSha256})`);
    x.finish();
  } catch (e) {
    removeStage();
    process.stderr.write(`${e.message}\n`);
    process.exit(STATUS.damaged);
  }
  // A directory can only move to another parent if we may write it ('..' changes): one that root
  // made here cannot, so say so before anything moves.
  const stuck = fs.readdirSync(root).filter((name) => {
    if (excludedTop(name, excludes)) return false;
    const st = fs.lstatSync(`${root}/${name}`);
    if (!st.isDirectory()) return false;
    try { fs.accessSync(`${root}/${name}`, fs.constants.W_OK); return false; } catch { return true; }
  });
  if (stuck.length) {
    removeStage();
    process.stderr.write(`${stuck.map((n) => `${root}/${n}`).join(' ')}: not writable by the owner of ${root} (made by root?), so it cannot be moved aside\n`);
    process.exit(STATUS.refused);
  }
  // Swap: everything current (but excluded names) into .pre-restore-*, then the staged tree in.
  // Once begun it is finished: a dropped connection (SIGHUP) or a signal does not stop it half-way,
  // and a closed stdout does not crash it (the caller finds the swap by its tag).
  for (const sig of ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE']) process.on(sig, () => {});
  process.stdout.on('error', () => {});
  const pre = fs.mkdtempSync(`${root}/.pre-restore-${stamp()}-${/^[A-Za-z0-9]{1,16}$/.test(tag || '') ? tag : ''}`);
  const movedOut = [];
  const movedIn = [];
  try {
    for (const name of fs.readdirSync(root).sort()) {
      if (excludedTop(name, excludes)) continue;
      fs.renameSync(`${root}/${name}`, `${pre}/${name}`);
      movedOut.push(name);
    }
    for (const name of fs.readdirSync(stage).sort()) {
      fs.renameSync(`${stage}/${name}`, `${root}/${name}`);
      movedIn.push(name);
    }
    fs.rmdirSync(stage);
  } catch (e) {
    // Put everything back as it was: the new entries into the stage, the old ones home.
    for (const name of movedIn.reverse()) { try { fs.renameSync(`${root}/${name}`, `${stage}/${name}`); } catch { /* reported below */ } }
    for (const name of movedOut.reverse()) { try { fs.renameSync(`${pre}/${name}`, `${root}/${name}`); } catch { /* reported below */ } }
    removeStage();
    try { fs.rmdirSync(pre); } catch { /* not empty: something could not move back, keep it */ }
    process.stderr.write(`the swap failed (${e.message}); the previous files were put back\n`);
    process.exit(STATUS.swapFailed);
  }
  const unarchivable = keepUnarchivable(root, pre, excludes);
  // What is in place now, read back.
  const now = walk(root, excludes);
  const files = now.files.map((f) => {
    const o = openPlain(`${root}/${f.path}`);
    if (o.error) return { path: f.path, size: -1, sha256: '' };
    try { const data = readWhole(o.fd, o.st.size); return { path: f.path, size: data.length, sha256: crypto.createHash('sha256').update(data).digest('hex') }; } finally { fs.closeSync(o.fd); }
  });
  const problems = compareToManifest(result.manifest, files);
  process.stdout.write(`${JSON.stringify({ restored: true, preRestore: pre.slice(pre.lastIndexOf('/') + 1), files: result.files.length, bytes: result.files.reduce((n, f) => n + f.size, 0), movedAside: movedOut, problems, keptInPlace: unarchivable.kept, leftAside: unarchivable.left })}\n`);
}

/** Removes one `.pre-restore-*` dir (after the gateway came up on the restored state). */
function dropPrevious(root, name) {
  if (!/^\.pre-restore-[0-9TZ]+-[A-Za-z0-9]+$/.test(name)) { process.stderr.write(`refusing to remove ${name}\n`); process.exit(STATUS.refused); }
  const abs = `${root}/${name}`;
  const st = fs.lstatSync(abs);
  if (!st.isDirectory()) { process.stderr.write(`${abs} is not a directory\n`); process.exit(STATUS.refused); }
  fs.rmSync(abs, { recursive: true, force: true });
  process.stdout.write('__DROPPED\n');
}

async function main(args) {
  const [mode, root, ...rest] = args;
  const decode = (b64) => JSON.parse(Buffer.from(b64 || 'e30', 'base64url').toString('utf8'));
  if (mode === 'backup') return backup(root, decode(rest[0]));
  if (mode === 'restore') { const o = decode(rest[1]); return restore(root, rest[0], o.excludes || [], o.tag); }
  if (mode === 'drop-previous') return dropPrevious(root, rest[0]);
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}

if (typeof globalThis.__clawdflyRemote !== 'undefined') {
  main(process.argv.slice(2)).catch((e) => { process.stderr.write(`${e && e.stack ? e.stack : e}\n`); process.exit(1); });
} else {
  module.exports = { readArchive, compareToManifest, ArchiveError, MANIFEST_NAME, FORMAT, STATUS, EXCLUDED_PREFIXES, FILESYSTEM_NAMES };
}
