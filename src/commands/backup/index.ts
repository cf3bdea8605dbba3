/**
 * `clawdfly backup`: one ssh call streams the state dir into a local archive, verified against
 * the manifest the machine wrote, then (--snapshot) a Fly volume snapshot. The logic is
 * src/backup/; this file chooses the machine and reports.
 */
import type { CommandContext } from '../types.js';
import type { backupSpec } from './spec.js';
import { formatBytes } from '../../backup/archive.js';
import { snapshotVolume, takeBackup, type BackupProgress } from '../../backup/backup.js';
import { flyFor, openProject } from '../../operate/context.js';
import { pickMachine } from '../../operate/machine.js';
import { isJsonMode, out, untrusted } from '../../ui/output.js';
import { Progress } from '../../ui/progress.js';
import { relative } from 'node:path';
import { quoteWord } from '../../fly/quote.js';
import type { Project } from '../../project/project.js';
import { holdSignals, InterruptedError, needsInterruptedMessage } from '../../util/interrupt.js';

export async function run({ opts }: CommandContext<typeof backupSpec>): Promise<number> {
  const project = await openProject(opts);
  // Ctrl-C: the stream stops, the partial file goes, exit 130 (a backup changes nothing remote).
  const guard = holdSignals({ firstNotice: 'stopping the backup', whenStopped: 'no archive was kept; run clawdfly backup again', warn: (line) => out.warn(line) });
  try {
    return await backup(opts, project);
  } catch (error) {
    if (guard.signal && needsInterruptedMessage(error)) throw new InterruptedError('interrupted: no backup was written (the partial file was removed)', 'clawdfly backup  (starts again)');
    throw error;
  } finally {
    guard.release();
  }
}

async function backup(opts: CommandContext<typeof backupSpec>['opts'], project: Project): Promise<number> {
  const fly = flyFor(project, opts);
  const { machine } = await pickMachine(fly, { machineId: opts.machine });
  const progress = new Progress();
  const result = await progress.run('backup', `Backing up ${project.stateDir} of ${project.app} (machine ${machine.id})`, (update) =>
    takeBackup(project, fly, machine, { out: opts.out, onProgress: (p) => update(progressText(p)) }),
  );
  if (opts.snapshot === true) {
    result.snapshot = await progress.run('snapshot', 'Creating a Fly volume snapshot', () => snapshotVolume(fly, machine));
  }
  const shown = relative(process.cwd(), result.file).startsWith('..') ? result.file : relative(process.cwd(), result.file) || result.file;
  const m = result.manifest;
  if (isJsonMode()) {
    out.json({
      ok: true,
      file: result.file,
      app: result.app,
      machine: result.machine,
      runtime: m.runtime,
      bytes: result.bytes,
      sha256: result.sha256,
      files: result.files,
      dataBytes: result.dataBytes,
      durationMs: result.durationMs,
      createdAt: m.createdAt,
      excluded: m.excluded,
      skipped: m.skipped,
      changedWhileRead: m.changedWhileRead,
      sqlite: m.sqlite ?? [],
      snapshot: result.snapshot ?? null,
    });
    return 0;
  }
  out.success(`${shown}: ${result.files} files, ${formatBytes(result.dataBytes)} → ${formatBytes(result.bytes)} in ${(result.durationMs / 1000).toFixed(1)} s, verified against its manifest`);
  out.info(`  left out: ${m.excluded.join(', ')}`);
  const databases = (m.sqlite ?? []).filter((d) => d.method !== 'file-copy');
  if (databases.length) out.info(`  SQLite, copied through SQLite (a consistent snapshot, no -wal/-shm): ${databases.map((d) => untrusted(d.path)).join(', ')}`);
  if (m.sqliteUnavailable) out.warn(m.sqliteUnavailable);
    if (m.skipped.length) out.warn(`not copied (a backup never follows links, and reads as the state dir's owner): ${m.skipped.slice(0, 5).map((s) => `${untrusted(s.path)} (${untrusted(s.reason)})`).join(', ')}${m.skipped.length > 5 ? ` and ${m.skipped.length - 5} more` : ''}`);
  if (m.changedWhileRead.length) out.warn(`kept changing while read (copied as last read): ${m.changedWhileRead.slice(0, 5).join(', ')}`);
  if (result.snapshot) out.info(`  volume snapshot of ${result.snapshot.volume}: ${result.snapshot.id ? result.snapshot.id : 'scheduled (no id yet)'}${result.snapshot.status ? ` (${result.snapshot.status})` : ''}`);
  out.info(`  restore with: clawdfly restore ${quoteWord(shown)}`);
  return 0;
}

function progressText(p: BackupProgress): string {
  const got = `${formatBytes(p.received)} received`;
  return p.total ? `${got} (${p.total.files} files, ${formatBytes(p.total.bytes)} before compression)` : got;
}
