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
import { t } from '../../i18n/index.js';

export async function run({ opts }: CommandContext<typeof backupSpec>): Promise<number> {
  const project = await openProject(opts);
  // Ctrl-C: the stream stops, the partial file goes, exit 130 (a backup changes nothing remote).
  const guard = holdSignals({ firstNotice: 'stopping the backup', whenStopped: 'no archive was kept; run clawdfly backup again', warn: (line) => out.warn(line) });
  try {
    return await backup(opts, project);
  } catch (error) {
    if (guard.signal && needsInterruptedMessage(error)) throw new InterruptedError(t('backup.interrupted'), t('backup.startsAgain', { command: 'clawdfly backup' }));
    throw error;
  } finally {
    guard.release();
  }
}

async function backup(opts: CommandContext<typeof backupSpec>['opts'], project: Project): Promise<number> {
  const fly = flyFor(project, opts);
  const { machine } = await pickMachine(fly, { machineId: opts.machine });
  const progress = new Progress();
  const result = await progress.run('backup', t('backup.progress.backup', { stateDir: project.stateDir, app: project.app, machine: machine.id }), (update) =>
    takeBackup(project, fly, machine, { out: opts.out, onProgress: (p) => update(progressText(p)) }),
  );
  if (opts.snapshot === true) {
    result.snapshot = await progress.run('snapshot', t('backup.progress.snapshot'), () => snapshotVolume(fly, machine));
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
  out.success(t('backup.done', { file: shown, files: result.files, dataSize: formatBytes(result.dataBytes), size: formatBytes(result.bytes), seconds: (result.durationMs / 1000).toFixed(1) }));
  out.info(`  ${t('backup.leftOut', { paths: m.excluded.join(', ') })}`);
  const databases = (m.sqlite ?? []).filter((d) => d.method !== 'file-copy');
  if (databases.length) out.info(`  ${t('backup.sqlite', { paths: databases.map((d) => untrusted(d.path)).join(', ') })}`);
  if (m.sqliteUnavailable) out.warn(m.sqliteUnavailable);
    if (m.skipped.length) out.warn(t('backup.skipped', { paths: m.skipped.slice(0, 5).map((s) => `${untrusted(s.path)} (${untrusted(s.reason)})`).join(', '), more: m.skipped.length > 5 ? t('backup.skipped.more', { count: m.skipped.length - 5 }) : '' }));
  if (m.changedWhileRead.length) out.warn(t('backup.changedWhileRead', { paths: m.changedWhileRead.slice(0, 5).map((p) => untrusted(p)).join(', ') }));
  if (result.snapshot) {
    const { volume, id, status } = result.snapshot;
    out.info(`  ${t('backup.snapshot', { volume, id: id ? id : t('backup.snapshot.noId'), status: status ? t('backup.snapshot.status', { status }) : '' })}`);
  }
  out.info(`  ${t('backup.restoreWith', { command: `clawdfly restore ${quoteWord(shown)}` })}`);
  return 0;
}

function progressText(p: BackupProgress): string {
  const received = formatBytes(p.received);
  return p.total ? t('backup.progress.receivedOf', { received, files: p.total.files, size: formatBytes(p.total.bytes) }) : t('backup.progress.received', { received });
}
