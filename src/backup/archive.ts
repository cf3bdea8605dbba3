/**
 * State archives on this computer: where they live, what they are called, and reading one back
 * against its manifest. The archive format and the code that reads it belong to the remote agent
 * (src/remote/agent/archive.ts), which also runs on the machine: the bytes the machine wrote are
 * checked by the same reader that later extracts them there.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { PROJECT_FILES } from '../project/paths.js';
import { t } from '../i18n/index.js';
import { readArchive, type VerifiedArchive } from '../remote/agent/archive.js';

export { readArchive, EXCLUDED_PREFIXES, FILESYSTEM_NAMES, MANIFEST_NAME, PENDING_NAME } from '../remote/agent/archive.js';
export type { Manifest, ManifestDatabase, ManifestFile, VerifiedArchive } from '../remote/agent/archive.js';

/**
 * Reads the whole archive and checks every member against the manifest. A truncated, damaged or
 * tampered archive is refused (exit 2): nothing is done with it.
 */
export async function verifyArchiveFile(file: string): Promise<VerifiedArchive> {
  // Looked up first: the archive reader reports a missing file as a stream error without its code.
  const missing = await stat(file).then(
    () => false,
    (error: NodeJS.ErrnoException) => error.code === 'ENOENT',
  );
  if (missing) throw new UsageError(t('restore.refused.noArchive', { file }), t('restore.refused.noArchiveHint'), 'archive-missing');
  try {
    return await readArchive(createReadStream(file));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(t('restore.refused.badArchive', { file, error: message }), t('restore.refused.badArchiveHint'), 'archive-invalid');
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
