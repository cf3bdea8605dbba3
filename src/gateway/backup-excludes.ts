/**
 * What a backup leaves out and a restore leaves in place. The work on the machine is the remote
 * agent's (src/remote/agent/, called through src/remote/agent-call.ts).
 */
import { BACKUP_EXCLUDED_NAMES, LOCK_FILE_NAME_RE } from './runtime.js';

/** Top-level names of the state dir a backup leaves out and a restore leaves in place. */
export function backupExcludes(): string[] {
  // An upgrade's copies of the old gateway's files (upgrade/state-snapshot.ts): the
  // files themselves are in the archive already, or in the backup the upgrade took first.
  return [...BACKUP_EXCLUDED_NAMES, `re:${LOCK_FILE_NAME_RE.source}`, 're:^\\.clawdfly-(?:pre|post)-upgrade-'];
}

/** The same, as a person reads them (the manifest's `excluded`). */
export const EXCLUDED_LABELS = [...BACKUP_EXCLUDED_NAMES.map((n) => `${n}/`), 'lost+found/', 'gateway.*.lock', '.pre-restore-*', '.clawdfly-restore-*', '.clawdfly-staged-restore-*', '.clawdfly-restore.json', '.failed-restore-*', '.clawdfly-snapshot-*', '.clawdfly-pre-upgrade-*', '.clawdfly-post-upgrade-*'];
