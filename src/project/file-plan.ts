/**
 * Re-runs never silently overwrite a file the user edited: each generated file is compared
 * with what is on disk and reported as create / identical / update / conflict. `update` is a
 * line-set merge (.gitignore), or a file still exactly as init last wrote it (its sha256 is in
 * .clawdfly/written.json) whose answers changed; any other difference is a conflict.
 * Nothing is written until every conflict has been decided.
 */
import { createHash } from 'node:crypto';
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

/** path → sha256 of the content init last wrote there. */
export type WrittenHashes = Record<string, string>;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export async function readWrittenHashes(dir: string, file: string): Promise<WrittenHashes> {
  const text = await readTextIfExists(join(dir, file));
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as WrittenHashes) : {};
  } catch {
    return {};
  }
}

/** The hashes to record after applying: kept files keep their old record (they stay "edited"). */
export function writtenHashesAfter(planned: PlannedFile[], keep: Set<string>, before: WrittenHashes): WrittenHashes {
  const result: WrittenHashes = {};
  for (const file of planned) {
    if (keep.has(file.path)) {
      if (before[file.path]) result[file.path] = before[file.path]!;
    } else result[file.path] = sha256(file.next);
  }
  return result;
}

export async function planFiles(dir: string, files: ProjectFile[], written: WrittenHashes = {}): Promise<PlannedFile[]> {
  return Promise.all(
    files.map(async (file): Promise<PlannedFile> => {
      const existing = await readTextIfExists(join(dir, file.path));
      if (existing === undefined) return { ...file, status: 'create', next: file.content };
      const next = file.merge === 'lines' ? mergeLines(existing, file.content) : file.content;
      if (next === existing) return { ...file, status: 'identical', existing, next };
      const diff = unifiedDiff(existing, next, { from: `${file.path} (yours)`, to: `${file.path} (generated)` });
      const untouched = written[file.path] !== undefined && written[file.path] === sha256(existing);
      return { ...file, status: file.merge === 'lines' || untouched ? 'update' : 'conflict', existing, next, diff };
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
