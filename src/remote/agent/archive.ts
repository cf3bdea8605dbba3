/**
 * clawdfly's state archive: a gzip'd POSIX tar of the gateway's state dir, with a manifest
 * (`.clawdfly-backup.json`, the LAST member) that lists every file's path, size and sha256 as it
 * was written into the archive. Reading one (readArchive) is the same code on the laptop (verify a
 * download) and on the machine (a restore extracts with it).
 */
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { ArchiveError, TarReader } from './tar.js';

export { ArchiveError } from './tar.js';

export const MANIFEST_NAME = '.clawdfly-backup.json';
export const FORMAT = 'clawdfly-backup/1';
/** Top-level names of the state dir that are never archived nor replaced: our own work dirs. */
export const EXCLUDED_PREFIXES = ['.pre-restore-', '.clawdfly-restore-', '.clawdfly-staged-restore-', '.clawdfly-snapshot-', '.failed-restore-'];
/**
 * A staged restore, applied by the image's prepare-data.mjs before the gateway starts (see
 * applyStagedRestore there): `{ state: staged → applied → (confirmed: removed) | reverted }`.
 */
export const PENDING_NAME = '.clawdfly-restore.json';
/** Top-level names that belong to the filesystem, not the gateway: ext4's root-owned `lost+found` (a restore could never move it aside). */
export const FILESYSTEM_NAMES = ['lost+found'];
/** What reading an archive holds in memory at most: the manifest, the number of members. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
export const MAX_MEMBERS = 1_000_000;

export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
  mode?: number;
  mtime?: number;
  /** How a SQLite database was copied (`sqlite-online-backup`, `vacuum-into`); absent for a plain file. */
  snapshot?: string;
}

/** A SQLite database found on the volume (by its header) and how the archive holds it. */
export interface ManifestDatabase {
  path: string;
  /** `sqlite-online-backup` | `vacuum-into`: a consistent copy made through SQLite; `file-copy`: no node:sqlite on the machine. */
  method: string | null;
  /** Its -wal / -shm / -journal, not copied (the snapshot holds their committed pages). */
  siblingsLeftOut: string[];
}

export interface Manifest {
  format: string;
  app: string;
  runtime: string;
  machine?: string;
  image?: string;
  stateDir?: string;
  createdAt: string;
  excluded: string[];
  files: ManifestFile[];
  dirs: { path: string; mode: number }[];
  /** Links (with what they point at) and special files an archive cannot hold, and files the owner could not read. */
  skipped: { path: string; reason: string; target?: string }[];
  changedWhileRead: string[];
  vanished: string[];
  /** Absent in archives made before databases were snapshotted. */
  sqlite?: ManifestDatabase[];
  /** Set when the machine's Node has no node:sqlite (the databases were copied as files). */
  sqliteUnavailable?: string;
  durationMs?: number;
  /** Added locally once the archive is verified. */
  snapshot?: { volume: string; id?: string; status?: string };
}

export interface VerifiedArchive {
  manifest: Manifest;
  files: ManifestFile[];
  dirs: { path: string; mode: number; mtime?: number }[];
  archiveSha256: string;
  bytes: number;
}

/** Where a member's bytes go while the archive is read (a restore extracts with it). */
export interface FileSink {
  write(chunk: Buffer): void;
  close(): void;
}

export interface ReadHooks {
  onFile?: (file: { path: string; size: number; mode: number; mtime: number }) => FileSink;
  onDir?: (dir: { path: string; mode: number }) => void;
}

/** A member name we accept: relative, no `.`/`..`/empty segments, no NUL. */
export function safeRelative(name: string): string | null {
  const clean = name.replace(/\/+$/, '');
  if (clean === '' || clean.startsWith('/') || clean.includes('\0')) return null;
  const parts = clean.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return null;
  return clean;
}

/** `excludes`: top-level names, or `re:<regex source>` for a family of names (the gateway's lock files). */
export function excludedTop(name: string, excludes: string[]): boolean {
  return (
    excludes.some((e) => (e.startsWith('re:') ? new RegExp(e.slice(3)).test(name) : e === name)) ||
    EXCLUDED_PREFIXES.some((p) => name.startsWith(p)) ||
    FILESYSTEM_NAMES.includes(name) ||
    name === MANIFEST_NAME ||
    name.startsWith(PENDING_NAME)
  );
}

interface Current {
  path: string;
  size: number;
  mode: number;
  mtime: number;
  hash: ReturnType<typeof createHash>;
  got: number;
  sink: FileSink | null;
}

/**
 * Reads a whole archive stream and checks it against its manifest. `hooks.onFile` may return a
 * sink for the file's bytes (restore extracts with it). A truncated, damaged or tampered archive
 * rejects with an ArchiveError.
 */
export function readArchive(input: NodeJS.ReadableStream, hooks: ReadHooks = {}): Promise<VerifiedArchive> {
  return new Promise((resolve, reject) => {
    const whole = createHash('sha256');
    let bytes = 0;
    const files: ManifestFile[] = [];
    const dirs: VerifiedArchive['dirs'] = [];
    let manifestChunks: Buffer[] | null = null;
    let manifest: Manifest | null = null;
    let current: Current | null = null;
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      try {
        current?.sink?.close();
      } catch {
        /* already failing */
      }
      reject(error instanceof ArchiveError ? error : new ArchiveError(error instanceof Error ? error.message : String(error)));
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
        const mode = entry.mode & 0o7777;
        if (entry.type === '5') {
          dirs.push({ path, mode, mtime: entry.mtime });
          hooks.onDir?.({ path, mode });
          current = null;
          return;
        }
        if (entry.type !== '0' && entry.type !== '7') throw new ArchiveError(`the archive holds a link or special file (${path}, type ${entry.type}): refused`);
        const file = { path, size: entry.size, mode, mtime: entry.mtime };
        current = { ...file, hash: createHash('sha256'), got: 0, sink: hooks.onFile ? hooks.onFile(file) : null };
      },
      onData(chunk) {
        if (manifestChunks) {
          manifestChunks.push(chunk);
          return;
        }
        if (!current) return;
        current.hash.update(chunk);
        current.got += chunk.length;
        current.sink?.write(chunk);
      },
      onEntryEnd() {
        if (manifestChunks) {
          try {
            manifest = JSON.parse(Buffer.concat(manifestChunks).toString('utf8')) as Manifest;
          } catch {
            throw new ArchiveError('the manifest is not valid JSON');
          }
          manifestChunks = null;
          return;
        }
        if (!current) return;
        current.sink?.close();
        files.push({ path: current.path, size: current.got, sha256: current.hash.digest('hex'), mode: current.mode, mtime: current.mtime });
        current = null;
      },
    });
    const gunzip = createGunzip();
    gunzip.on('data', (chunk: Buffer) => {
      if (failed) return;
      try {
        reader.push(chunk);
      } catch (e) {
        fail(e);
      }
    });
    gunzip.on('error', (e) => fail(new ArchiveError(/unexpected end/i.test(e.message) ? 'the archive ends early (truncated gzip stream)' : `the archive is not a valid gzip stream (${e.message})`)));
    gunzip.on('end', () => {
      if (failed) return;
      try {
        reader.end();
        if (!manifest) throw new ArchiveError(`the archive has no manifest (${MANIFEST_NAME}): not a clawdfly backup, or cut short`);
        const problems = compareToManifest(manifest, files);
        if (problems.length) throw new ArchiveError(`the archive does not match its manifest: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ''}`);
        resolve({ manifest, files, dirs, archiveSha256: whole.digest('hex'), bytes });
      } catch (e) {
        fail(e);
      }
    });
    input.on('data', (chunk: Buffer) => {
      whole.update(chunk);
      bytes += chunk.length;
    });
    input.on('error', (e) => fail(e));
    input.pipe(gunzip);
  });
}

/** Every difference between a manifest and the files actually read, as short sentences. */
export function compareToManifest(manifest: Manifest, files: { path: string; size: number; sha256: string }[]): string[] {
  const problems: string[] = [];
  if (!manifest || manifest.format !== FORMAT || !Array.isArray(manifest.files)) return [`the manifest is not a ${FORMAT} manifest`];
  const listed = new Map<string, ManifestFile>();
  for (const f of manifest.files) {
    if (!f || typeof f.path !== 'string' || typeof f.sha256 !== 'string' || typeof f.size !== 'number') {
      problems.push('a manifest row is malformed');
      continue;
    }
    if (listed.has(f.path)) problems.push(`${f.path} is listed twice`);
    listed.set(f.path, f);
  }
  const seen = new Set<string>();
  for (const f of files) {
    const row = listed.get(f.path);
    if (seen.has(f.path)) problems.push(`${f.path} appears twice in the archive`);
    seen.add(f.path);
    if (!row) {
      problems.push(`${f.path} is in the archive but not in the manifest`);
      continue;
    }
    if (row.size !== f.size) problems.push(`${f.path}: ${f.size} bytes, the manifest says ${row.size}`);
    else if (row.sha256 !== f.sha256) problems.push(`${f.path}: sha256 differs from the manifest`);
  }
  for (const path of listed.keys()) if (!seen.has(path)) problems.push(`${path} is in the manifest but not in the archive`);
  return problems;
}
