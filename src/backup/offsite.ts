/**
 * Off-site copies, the laptop's side. The machine's uploader (templates/runtime/offsite.mjs, run by
 * the entrypoint's supervisor) encrypts a consistent backup with CLAWDFLY_BACKUP_KEY and uploads it
 * every CLAWDFLY_OFFSITE_EVERY to the app's private Tigris bucket. From here: provision the bucket
 * and the key (`backup schedule`), list the copies and fetch one (on the machine: the bucket's
 * credentials and the key are secrets of the app, and the copies are decrypted there).
 */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import { STORAGE_SECRET_NAMES } from '../fly/storage.js';
import type { Project } from '../project/project.js';
import type { Secrets } from '../project/secrets.js';
import { asDirOwner } from '../remote/as-owner.js';

/** fly.toml [env]: how often the machine uploads a copy (`1h`); absent or "off": never. */
export const OFFSITE_ENV = 'CLAWDFLY_OFFSITE_EVERY';
/** The AES-256-GCM key (base64 of 32 random bytes): a Fly secret and a line of secrets.env, never in the bucket. */
export const BACKUP_KEY_NAME = 'CLAWDFLY_BACKUP_KEY';
/** The uploader in the image, next to supervisor.mjs. */
export const OFFSITE_SCRIPT = '/app/offsite.mjs';
/** What the uploader last did, in the state dir: `{every, lastUploadAt, lastObject, lastError, lastErrorAt}`. */
export const OFFSITE_STATUS_FILE = '.clawdfly-offsite.json';
/** Remote exit status of the scripts below when the image has no uploader (it predates `backup schedule`). */
export const NO_UPLOADER_STATUS = 3;

export const MIN_INTERVAL_MINUTES = 5;
export const MAX_INTERVAL_MINUTES = 7 * 24 * 60;

/** The bucket `backup schedule` makes: one per app (Fly allows one Tigris project per app). */
export function bucketNameFor(app: string): string {
  return `${app}-backups`;
}

/** 32 bytes from the CSPRNG, base64: the key the uploader encrypts with. */
export function generateBackupKey(): string {
  return randomBytes(32).toString('base64');
}

/**
 * `30m`, `1h`, `6h`, `1d` → minutes and the form fly.toml carries (`30m`, `1h`, `24h`: Go-style
 * units the uploader reads). Refused: other units, 0, below 5 minutes, above 7 days.
 */
export function parseInterval(text: string): { minutes: number; every: string } {
  const m = /^\s*(\d{1,6})\s*(m|min|h|d)\s*$/i.exec(text);
  const fix = 'clawdfly backup schedule --every 1h  (a whole number of minutes, hours or days: 30m, 1h, 6h, 1d)';
  if (!m) throw new UsageError(`--every ${JSON.stringify(text)} is not an interval`, fix, 'bad-interval');
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  const minutes = unit === 'd' ? n * 24 * 60 : unit === 'h' ? n * 60 : n;
  if (minutes < MIN_INTERVAL_MINUTES) throw new UsageError(`--every ${text.trim()} is too often: each copy is a full backup, at least ${MIN_INTERVAL_MINUTES} minutes apart`, fix, 'bad-interval');
  if (minutes > MAX_INTERVAL_MINUTES) throw new UsageError(`--every ${text.trim()} is too rare: a copy older than 7 days loses a week of sessions and pairings`, fix, 'bad-interval');
  return { minutes, every: minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m` };
}

/** The interval in fly.toml's [env], in minutes; undefined when not scheduled (absent, "off" or unreadable). */
export function scheduledMinutes(env: Record<string, string>): number | undefined {
  const value = env[OFFSITE_ENV];
  if (!value || /^(off|0|false|no)$/i.test(value.trim())) return undefined;
  // set by hand in seconds (the uploader reads `90s` too)
  const seconds = /^\s*(\d+)\s*s\s*$/i.exec(value);
  if (seconds) return Number(seconds[1]) / 60 || undefined;
  try {
    return parseInterval(value).minutes;
  } catch {
    return undefined;
  }
}

/** The bucket credentials and the key as secrets.env holds them, when complete. */
export function offsiteSecrets(secrets: Secrets): { credentials: Record<(typeof STORAGE_SECRET_NAMES)[number], string> | undefined; key: string | undefined } {
  const complete = STORAGE_SECRET_NAMES.every((n) => secrets[n]);
  return {
    credentials: complete ? (Object.fromEntries(STORAGE_SECRET_NAMES.map((n) => [n, secrets[n]!])) as Record<(typeof STORAGE_SECRET_NAMES)[number], string>) : undefined,
    key: secrets[BACKUP_KEY_NAME] || undefined,
  };
}

/** Has this project off-site copies to list or fetch: a schedule in fly.toml, or a bucket in secrets.env. */
export function hasOffsite(project: Project): boolean {
  return scheduledMinutes(project.fly.env) !== undefined || Boolean(project.secrets['BUCKET_NAME']);
}

// ── On the machine ──────────────────────────────────────────────────────────────────────────────

const CHECK_UPLOADER = `[ -f "$1" ] || { echo "$1 is not in this machine's image" >&2; exit ${NO_UPLOADER_STATUS}; }`;

/**
 * Whose copies: fly.toml's app (the uploader's prefix `clawdfly/<app>/`), also when `--app` names
 * another target: a new app restored from the old one's bucket (the volume-died drill) reads the
 * old app's copies. The uploader takes it as CLAWDFLY_OFFSITE_APP.
 */
export function copiesOf(project: Project): string {
  return project.fly.app ?? project.app;
}

/** `node offsite.mjs list --json`, as the state dir's owner (the uploader's own user; it needs no root). */
export function listCommand(project: Project): string[] {
  return asDirOwner(project.stateDir, `${CHECK_UPLOADER}\nCLAWDFLY_OFFSITE_APP="$2" exec node "$1" list --json`, 'sh', [OFFSITE_SCRIPT, copiesOf(project)]);
}

/**
 * Fetch and decrypt one copy into a fresh folder on the volume (mktemp: `.clawdfly-restore-*`, a
 * name doctor knows as clawdfly's own), stream the archive to stdout, remove the folder. The
 * uploader's own messages go to stderr; the copy's name is a positional parameter, never script text.
 */
export function fetchCommand(project: Project, name: string): string[] {
  const script = [
    CHECK_UPLOADER,
    'd=$(mktemp -d "$3/.clawdfly-restore-XXXXXXXX") || exit 1',
    'if CLAWDFLY_OFFSITE_APP="$4" node "$1" fetch "$2" --to "$d/archive.tar.gz" >&2; then cat "$d/archive.tar.gz"; rc=$?; else rc=$?; fi',
    'rm -rf "$d"',
    'exit $rc',
  ].join('\n');
  return asDirOwner(project.stateDir, script, 'sh', [OFFSITE_SCRIPT, name, project.stateDir, copiesOf(project)]);
}

/** One copy in the bucket, as the machine's uploader lists it (checked in offsite-remote.ts). */
export interface RemoteCopy {
  name: string;
  size: number;
  time: string;
  [key: string]: unknown;
}

/** A copy's name as the user may give it (`restore --from remote:<name>`): the bucket's key, or its last part. */
export function checkCopyName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,200}$/.test(name) || name.split('/').includes('..')) {
    throw new UsageError(`"${name}" is not the name of an off-site copy`, 'clawdfly backup list --remote  (shows the names)', 'bad-copy-name');
  }
  return name;
}
