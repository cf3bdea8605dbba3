/**
 * The `ssh console -C` argv that runs templates/remote/state-archive.cjs on the machine.
 *
 * The script travels base64url-encoded as one argv word (no shell quoting inside it to get wrong;
 * flyctl's -C is split by the machine's SSH server, not a shell) and runs with the image's `node`
 * as the OWNER of the state dir (remote/as-owner.ts), never as root. Its parameters are argv words
 * too; the JSON ones are base64url-encoded so that no path-like text in them is ever interpreted.
 */
import { readFileSync } from 'node:fs';
import { BACKUP_EXCLUDED_NAMES, LOCK_FILE_NAME_RE } from '../gateway/runtime.js';
import { asDirOwner } from '../remote/as-owner.js';
import { ARCHIVE_SCRIPT } from './archive.js';

/** Reads the script from $1 (base64url) and runs it with $2… as its arguments. */
const BOOTSTRAP = `exec node -e 'globalThis.__clawdflyRemote=1;eval(Buffer.from(process.argv[1],"base64url").toString())' "$@"`;

let encoded: string | undefined;
function scriptWord(): string {
  encoded ??= readFileSync(ARCHIVE_SCRIPT).toString('base64url');
  return encoded;
}

export function jsonWord(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** Top-level names of the state dir a backup leaves out and a restore leaves in place. */
export function backupExcludes(): string[] {
  // An upgrade's copies of the old gateway's files (upgrade/state-snapshot.ts): the
  // files themselves are in the archive already, or in the backup the upgrade took first.
  return [...BACKUP_EXCLUDED_NAMES, `re:${LOCK_FILE_NAME_RE.source}`, 're:^\\.clawdfly-(?:pre|post)-upgrade-'];
}

/** The same, as a person reads them (the manifest's `excluded`). */
export const EXCLUDED_LABELS = [...BACKUP_EXCLUDED_NAMES.map((n) => `${n}/`), 'lost+found/', 'gateway.*.lock', '.pre-restore-*', '.clawdfly-restore-*', '.clawdfly-staged-restore-*', '.clawdfly-restore.json', '.failed-restore-*', '.clawdfly-snapshot-*', '.clawdfly-pre-upgrade-*', '.clawdfly-post-upgrade-*'];

export type ArchiveMode = 'backup' | 'restore' | 'drop-previous' | 'confirm-restore';

/** `args`: strings pass as they are, anything else as a base64url JSON word. */
export function archiveCommand(stateDir: string, mode: ArchiveMode, args: unknown[]): string[] {
  const words = args.map((a) => (typeof a === 'string' ? a : jsonWord(a)));
  return asDirOwner(stateDir, BOOTSTRAP, 'sh', [scriptWord(), mode, stateDir, ...words]);
}
