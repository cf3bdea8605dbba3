/**
 * Re-runs never silently overwrite a file the user edited: each generated file is compared
 * with what is on disk and reported as create / identical / update (line-set merge) / conflict.
 * Nothing is written until every conflict has been decided.
 */
import { join } from 'node:path';
import type { ProjectFile } from './render.js';
import { readTextIfExists, writeFileAtomic } from '../util/fs.js';
import { unifiedDiff } from '../util/diff.js';

export type FileStatus = 'create' | 'identical' | 'update' | 'conflict';

export interface PlannedFile extends ProjectFile {
  status: FileStatus;
  existing?: string;
  /** What will be written (for merges: existing + missing lines). */
  next: string;
  diff?: string;
}

function mergeLines(existing: string, wanted: string): string {
  const have = new Set(existing.split(/\r?\n/).map((l) => l.trim()));
  const missing = wanted.split('\n').filter((line) => line.trim() && !have.has(line.trim()));
  if (missing.length === 0) return existing;
  return existing + (existing.endsWith('\n') || existing === '' ? '' : '\n') + missing.join('\n') + '\n';
}

export async function planFiles(dir: string, files: ProjectFile[]): Promise<PlannedFile[]> {
  return Promise.all(
    files.map(async (file): Promise<PlannedFile> => {
      const existing = await readTextIfExists(join(dir, file.path));
      if (existing === undefined) return { ...file, status: 'create', next: file.content };
      const next = file.merge === 'lines' ? mergeLines(existing, file.content) : file.content;
      if (next === existing) return { ...file, status: 'identical', existing, next };
      const diff = unifiedDiff(existing, next, { from: `${file.path} (yours)`, to: `${file.path} (generated)` });
      return { ...file, status: file.merge === 'lines' ? 'update' : 'conflict', existing, next, diff };
    }),
  );
}

export async function applyFiles(dir: string, planned: PlannedFile[], keep: Set<string>): Promise<PlannedFile[]> {
  const written: PlannedFile[] = [];
  for (const file of planned) {
    if (file.status === 'identical' || keep.has(file.path)) continue;
    await writeFileAtomic(join(dir, file.path), file.next, file.mode ?? 0o644);
    written.push(file);
  }
  return written;
}
