// fakefly: `storage create` (Tigris object storage, flyctl-day2.md §9). The bucket's credentials are
// printed in clear text on stdout, as flyctl prints them, and set on the app as secrets that are
// deployed at once (a restart-only deployment, as `secrets set` without --stage).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { FlyError, out } from './output.mjs';
import { withState } from './state.mjs';
import { requireAuth, resolveAppName, gqlApp } from './core.mjs';
import { setSecretsAndDeploy } from './commands-secrets.mjs';

export const STORAGE_SECRET_NAMES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'BUCKET_NAME'];
export const TIGRIS_ENDPOINT = 'https://fly.storage.tigris.dev';

/**
 * Values the double generated that count as secrets: the suite's global teardown scans every flyctl
 * argv and CLI output for them (test/global-setup.ts reads the run dir's secrets.jsonl).
 */
function registerGeneratedSecrets(env, values) {
  const runDir = env.CLAWDFLY_TEST_RUN_DIR;
  if (!runDir) return;
  try {
    fs.appendFileSync(path.join(runDir, 'secrets.jsonl'), values.map((v) => JSON.stringify(v)).join('\n') + '\n');
  } catch {
    // the run dir is gone (a test outside the suite): nothing to register with
  }
}

export function cmdStorageCreate(ctx) {
  const appName = resolveAppName(ctx);
  // Terms of service first: the double is never interactive.
  const created = withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    const app = gqlApp(s, appName);
    if (!ctx.flags.yes) throw new FlyError('To agree, the --yes flag must be specified when not running interactively');
    // *invented* text: flyctl's prompt fails with its non-interactive error
    const name = ctx.flags.name;
    if (!name) throw new FlyError('name argument or flag must be specified when not running interactively');
    if (app.storage) throw new FlyError(`A Tigris project named ${app.storage} already exists for app ${appName}`);
    s.buckets ??= {};
    // *invented* text: a bucket name is global on Tigris
    if (s.buckets[name]) throw new FlyError(`bucket name ${name} is already taken`);
    const secrets = {
      AWS_ACCESS_KEY_ID: `tid_${crypto.randomBytes(15).toString('base64url')}`,
      AWS_SECRET_ACCESS_KEY: `tsec_${crypto.randomBytes(30).toString('base64url')}`,
      AWS_ENDPOINT_URL_S3: TIGRIS_ENDPOINT,
      AWS_REGION: 'auto',
      BUCKET_NAME: name,
    };
    s.buckets[name] = { app: appName, public: Boolean(ctx.flags.public), accessKeyId: secrets.AWS_ACCESS_KEY_ID, secretAccessKey: secrets.AWS_SECRET_ACCESS_KEY, objects: {} };
    app.storage = name;
    const existing = STORAGE_SECRET_NAMES.filter((n) => app.secrets[n]);
    return { name, secrets, existing };
  });
  registerGeneratedSecrets(ctx.env, [created.secrets.AWS_ACCESS_KEY_ID, created.secrets.AWS_SECRET_ACCESS_KEY]);
  // *invented* wording of the terms line
  out('You agreed to the Tigris Data terms of service (https://www.tigrisdata.com/docs/legal/terms-of-service/)\n');
  out(`Your Tigris project (${created.name}) is ready. See details and next steps with: https://fly.io/docs/reference/tigris/\n\n`);
  if (created.existing.length) {
    out(`Secrets [${created.existing.join(', ')}] already exist on app ${appName}. They won't be set automatically.\n`);
    return;
  }
  out(`Setting the following secrets on ${appName}:\n`);
  for (const [k, v] of Object.entries(created.secrets)) out(`${k}: ${v}\n`);
  out('\n');
  setSecretsAndDeploy({ ...ctx, flags: { ...ctx.flags, stage: false } }, appName, created.secrets);
}
