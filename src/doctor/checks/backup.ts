/**
 * backup: the age of the newest local backup of the app (.clawdfly/backups, from clawdfly backup).
 * Local files only, so it runs offline too. Fly's own daily volume snapshots restore only into a
 * new volume; a local archive is the copy a wrong push, a failed upgrade or a deleted volume cannot take.
 */
import { t } from '../../i18n/index.js';
import { formatBytes } from '../../backup/archive.js';
import { PROJECT_FILES } from '../../project/paths.js';
import type { Check } from '../types.js';

/** A backup older than this is a warning. */
export const BACKUP_MAX_AGE_DAYS = 7;
const DAY_MS = 24 * 60 * 60 * 1000;

function age(ms: number): string {
  if (ms < 2 * 60 * 60 * 1000) return `${Math.max(0, Math.round(ms / 60_000))} min`;
  if (ms < 2 * DAY_MS) return `${Math.round(ms / (60 * 60 * 1000))} h`;
  return `${Math.floor(ms / DAY_MS)} days`;
}

export const backupCheck: Check = {
  id: 'backup',
  title: 'a recent local backup of the state',
  run(ev) {
    const dir = `${PROJECT_FILES.stateDir}/backups`;
    const newest = ev.backups?.[0];
    if (!newest) {
      return { status: 'warn', summary: t('doctor.backup.none', { app: ev.project.app, dir }), fix: 'clawdfly backup' };
    }
    const ms = Date.now() - newest.takenAt.getTime();
    const evidence = [`newest: ${dir}/${newest.file.split('/').pop()} (${formatBytes(newest.bytes)}, ${age(ms)} old); ${ev.backups!.length} backup(s) in all`];
    if (ms > BACKUP_MAX_AGE_DAYS * DAY_MS) {
      return { status: 'warn', summary: t('doctor.backup.old', { age: age(ms), days: BACKUP_MAX_AGE_DAYS }), evidence, fix: 'clawdfly backup' };
    }
    return { status: 'ok', summary: t('doctor.backup.ok', { age: age(ms) }), evidence };
  },
};
