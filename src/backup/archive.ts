/**
 * State archives on this computer: where they live, what they are called, and reading one back
 * against its manifest. The archive format and the code that reads it are one file,
 * templates/remote/state-archive.cjs, which also runs on the machine (remote.ts): the bytes the
 * machine wrote are checked by the same reader that later extracts them there.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { PROJECT_FILES } from '../project/paths.js';
import { assetPath } from '../util/assets.js';

export const ARCHIVE_SCRIPT = assetPath('templates', 'remote', 'state-archive.cjs');

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
  method: string;
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
  dirs: { path: string; mode: number }[];
  archiveSha256: string;
  bytes: number;
}

interface ArchiveModule {
  readArchive(input: NodeJS.ReadableStream): Promise<VerifiedArchive>;
  ArchiveError: new (message: string) => Error;
  MANIFEST_NAME: string;
  EXCLUDED_PREFIXES: string[];
  /** Top-level names that are the filesystem's (lost+found): never backed up nor replaced. */
  FILESYSTEM_NAMES: string[];
  /** The staged restore's marker (`.clawdfly-restore.json`): never backed up nor replaced. */
  PENDING_NAME: string;
  STATUS: { damaged: number; notDir: number; swapFailed: number; refused: number; sqliteFailed: number };
}

let loaded: ArchiveModule | undefined;
export function archiveModule(): ArchiveModule {
  loaded ??= createRequire(import.meta.url)(ARCHIVE_SCRIPT) as ArchiveModule;
  return loaded;
}

/** Exit statuses of the remote script (see the template). */
export function remoteStatus(): ArchiveModule['STATUS'] {
  return archiveModule().STATUS;
}

/**
 * Reads the whole archive and checks every member against the manifest. A truncated, damaged or
 * tampered archive is refused (exit 2): nothing is done with it.
 */
export async function verifyArchiveFile(file: string): Promise<VerifiedArchive> {
  const mod = archiveModule();
  try {
    return await mod.readArchive(createReadStream(file));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`no such archive: ${file}`, 'ls .clawdfly/backups/', 'archive-missing');
    throw new UsageError(`${file} cannot be used: ${message}`, 'use another archive (ls .clawdfly/backups/), or make a fresh one: clawdfly backup', 'archive-invalid');
  }
}

export function backupsDir(projectDir: string): string {
  return join(projectDir, PROJECT_FILES.stateDir, 'backups');
}

/** `20261129T031500Z` for a date (UTC, second precision: sorts as text). */
export function utcStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export function backupFileName(app: string, date: Date): string {
  return `${app}-${utcStamp(date)}.tar.gz`;
}

const NAME_RE = /^(.+)-(\d{8}T\d{6}Z)\.tar\.gz$/;

export interface LocalBackup {
  file: string;
  app: string;
  takenAt: Date;
  bytes: number;
}

/** The project's local backups (optionally of one app), newest first. */
export async function listBackups(projectDir: string, app?: string): Promise<LocalBackup[]> {
  const dir = backupsDir(projectDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const found: LocalBackup[] = [];
  for (const name of names) {
    const m = NAME_RE.exec(name);
    if (!m || (app !== undefined && m[1] !== app)) continue;
    const s = m[2]!;
    const takenAt = new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`);
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (!st?.isFile() || Number.isNaN(takenAt.getTime())) continue;
    found.push({ file: join(dir, name), app: m[1]!, takenAt, bytes: st.size });
  }
  return found.sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime());
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}
