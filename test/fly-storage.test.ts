/**
 * `fly storage create`'s stdout (flyctl-day2.md §9) read by src/fly/storage.ts: the five `KEY: value`
 * lines captured (and registered for redaction at once), and each of Fly's refusals turned into one
 * line with its fix, without ever quoting stdout (it may hold the credentials).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseStorageCredentials, storageCreateFailure } from '../src/fly/storage.js';
import { clearSecrets, redact } from '../src/ui/redact.js';

afterEach(clearSecrets);

const OUTPUT = [
  'Your Tigris project (gw-backups) is ready. See details and next steps with: https://fly.io/docs/reference/tigris/',
  '',
  'Setting the following secrets on gw:',
  'AWS_ACCESS_KEY_ID: tid_abcdefghijklmnop',
  'AWS_SECRET_ACCESS_KEY: tsec_0123456789abcdefghij',
  'AWS_ENDPOINT_URL_S3: https://fly.storage.tigris.dev',
  'AWS_REGION: auto',
  'BUCKET_NAME: gw-backups',
  '',
].join('\n');

describe('fly storage create output', () => {
  it('captures the five credentials and hides the keys from every later output', () => {
    expect(parseStorageCredentials(OUTPUT)).toEqual({
      AWS_ACCESS_KEY_ID: 'tid_abcdefghijklmnop',
      AWS_SECRET_ACCESS_KEY: 'tsec_0123456789abcdefghij',
      AWS_ENDPOINT_URL_S3: 'https://fly.storage.tigris.dev',
      AWS_REGION: 'auto',
      BUCKET_NAME: 'gw-backups',
    });
    expect(redact(`oops ${OUTPUT}`)).not.toMatch(/tid_abcdefghijklmnop|tsec_0123456789abcdefghij/);
  });

  it('an incomplete set is no set (and what was printed is still hidden)', () => {
    expect(parseStorageCredentials('AWS_SECRET_ACCESS_KEY: tsec_only_this_one_here\n')).toBeUndefined();
    expect(redact('tsec_only_this_one_here')).toBe('***');
  });

  it('turns each refusal into one line with its fix, never quoting stdout', () => {
    const exists = storageCreateFailure('gw', 'gw-backups', { stdout: '', stderr: 'Error: A Tigris project named old-b already exists for app gw\n', exitCode: 1 });
    expect(exists.exitCode).toBe(2);
    expect(exists.message).toMatch(/^gw already has a Tigris bucket \(old-b\)/);
    expect(exists.hint).toMatch(/fly storage destroy old-b -a gw/);
    const secrets = storageCreateFailure('gw', 'gw-backups', { stdout: "Secrets [AWS_ACCESS_KEY_ID, BUCKET_NAME] already exist on app gw. They won't be set automatically.\n", stderr: '', exitCode: 0 });
    expect(secrets.exitCode).toBe(2);
    expect(secrets.hint).toMatch(/fly secrets unset AWS_ACCESS_KEY_ID BUCKET_NAME -a gw --stage/);
    const other = storageCreateFailure('gw', 'gw-backups', { stdout: 'AWS_SECRET_ACCESS_KEY: tsec_zzzzzzzzzzzz', stderr: 'Error: boom\n', exitCode: 1 });
    expect(other.message).toBe('fly storage create failed: boom');
    expect(other.message).not.toContain('tsec_');
  });
});
