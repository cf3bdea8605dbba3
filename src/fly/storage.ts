/**
 * `fly storage create` (Tigris, flyctl-day2.md §9): the bucket's credentials come back ONCE, in
 * clear text on stdout, as `KEY: value` lines after `Setting the following secrets on <app>:`.
 * They are parsed here and registered with the redaction filter before anything else can print
 * them; the text itself is never shown (not even with --verbose, which logs stderr only).
 */
import { ClawdflyError } from '../errors.js';
import { registerSecrets } from '../ui/redact.js';
import { errorText } from './errors.js';

/** The five secrets `fly storage create` sets on the app (and prints). */
export const STORAGE_SECRET_NAMES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'BUCKET_NAME'] as const;
export type StorageCredentials = Record<(typeof STORAGE_SECRET_NAMES)[number], string>;

/** The credentials in flyctl's stdout, or undefined when it printed no complete set. */
export function parseStorageCredentials(stdout: string): StorageCredentials | undefined {
  const found: Partial<StorageCredentials> = {};
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^\s*([A-Z0-9_]+):\s*(\S.*?)\s*$/.exec(line);
    if (m && (STORAGE_SECRET_NAMES as readonly string[]).includes(m[1]!)) found[m[1] as keyof StorageCredentials] = m[2]!;
  }
  // registered at once, whatever comes next (an error message quoting stdout is redacted too)
  registerSecrets([found.AWS_ACCESS_KEY_ID, found.AWS_SECRET_ACCESS_KEY].filter((v): v is string => Boolean(v)));
  return STORAGE_SECRET_NAMES.every((n) => found[n]) ? (found as StorageCredentials) : undefined;
}

/** A `fly storage create` that left nothing usable: one line, the fix, exit 2 (nothing of ours was written). */
export class StorageCreateError extends ClawdflyError {}

/**
 * What a failed or incomplete `fly storage create` means, from its own words. `stdout` is only
 * matched against fixed phrases here, never quoted (it may hold credentials).
 */
export function storageCreateFailure(app: string, name: string, result: { stdout: string; stderr: string; exitCode: number }): ClawdflyError {
  const text = `${result.stderr}\n${result.stdout}`;
  const exists = /A Tigris project named (\S+) already exists for app/.exec(text);
  if (exists) {
    return new StorageCreateError(`${app} already has a Tigris bucket (${exists[1]}), and its credentials are not in .clawdfly/secrets.env (Fly prints them only once, when the bucket is made)`, {
      hint: `copy .clawdfly/secrets.env from the computer that ran clawdfly backup schedule; or remove that bucket first (fly storage destroy ${exists[1]} -a ${app}), then run this again`,
      code: 'storage-exists',
      exitCode: 2,
    });
  }
  const secretsExist = /Secrets \[([^\]]*)\] already exist on app/.exec(text);
  if (secretsExist) {
    return new StorageCreateError(`${app} already has the secrets ${secretsExist[1]}: Fly would not set the new bucket's credentials`, {
      hint: `remove them first (fly secrets unset ${secretsExist[1]!.split(/[,\s]+/).filter(Boolean).join(' ')} -a ${app} --stage), then run this again`,
      code: 'storage-secrets-exist',
      exitCode: 2,
    });
  }
  if (/--yes flag must be specified/.test(text)) {
    return new StorageCreateError('Fly asks to agree to the Tigris terms of service, and flyctl was not told yes', { hint: `fly storage create -n ${name} -y -a ${app}  (clawdfly always passes -y; is --flyctl an old flyctl?)`, code: 'storage-terms', exitCode: 1 });
  }
  return new StorageCreateError(`fly storage create failed: ${errorText(result.stderr) || `exit ${result.exitCode}, no credentials printed`}`, {
    hint: 'run it again; with --verbose to see the flyctl call',
    code: 'storage-create-failed',
    exitCode: 1,
  });
}
