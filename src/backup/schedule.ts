/**
 * `clawdfly backup schedule`: a plan (what exists vs what the schedule needs), printed as it will
 * run (`--dry-run` stops there), then applied in an order where every exit converges on the next
 * run: the bucket (its credentials are printed by Fly once: written to secrets.env at once) →
 * secrets.env → the key as a staged Fly secret → fly.toml [env] (+ answers.json), which the next
 * `clawdfly deploy` carries to the machine.
 */
import { join } from 'node:path';
import { ClawdflyError, UsageError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import type { SecretInfo } from '../fly/json.js';
import { formatSecretsImport } from '../fly/secrets-import.js';
import { STORAGE_SECRET_NAMES, type StorageCredentials } from '../fly/storage.js';
import { setEnv, unsetEnv } from '../project/flytoml-edit.js';
import { stagedSecrets } from '../deploy/preflight.js';
import { readDeployState, recordAppliedSecrets, valueHash } from '../deploy/state.js';
import { readWrittenHashes, sha256 } from '../project/file-plan.js';
import { PROJECT_FILES } from '../project/paths.js';
import type { Project } from '../project/project.js';
import { writeSecrets } from '../project/secrets.js';
import { registerSecret } from '../ui/redact.js';
import { unifiedDiff } from '../util/diff.js';
import { writeFileAtomic } from '../util/fs.js';
import { BACKUP_KEY_NAME, bucketNameFor, generateBackupKey, OFFSITE_ENV, offsiteSecrets } from './offsite.js';

export type ScheduleStepId = 'bucket' | 'secrets-file' | 'key' | 'fly-toml';

export interface ScheduleStep {
  id: ScheduleStepId;
  action: 'create' | 'write' | 'set' | 'skip';
  reason: string;
  /** The flyctl argv (without the binary). */
  argv?: string[];
  /** stdin lines, values as ***. */
  stdin?: string[];
  /** A local file this step writes. */
  file?: string;
  diff?: string;
}

export interface SchedulePlan {
  app: string;
  /** The interval fly.toml will carry; undefined: --off. */
  every?: string;
  bucket: string;
  steps: ScheduleStep[];
  /** Generated now when secrets.env has none (registered for redaction at once). */
  key?: string;
  flyTomlNext: string;
}

/** What Fly has for the app: read before anything is planned. */
export interface ScheduleObserved {
  appExists: boolean;
  secrets: SecretInfo[];
}

const COMMENT = '  # Encrypted off-site copies of the state to the app\'s Tigris bucket (clawdfly backup schedule).';

/** fly.toml with [env] CLAWDFLY_OFFSITE_EVERY set (or removed): the user's other lines kept byte for byte. */
export function flyTomlWithSchedule(text: string, every: string | undefined): string {
  if (every === undefined) return unsetEnv(text, OFFSITE_ENV);
  const had = /^\s*CLAWDFLY_OFFSITE_EVERY\s*=/m.test(text);
  const next = setEnv(text, OFFSITE_ENV, every);
  if (had) return next;
  // the same comment the template writes above it (templates/fly.toml.tmpl)
  return next.replace(/^(\s*)CLAWDFLY_OFFSITE_EVERY = /m, (line) => `${COMMENT}\n${line}`);
}

export async function planSchedule(project: Project, fly: FlyClient, every: string | undefined, observed: ScheduleObserved | undefined): Promise<SchedulePlan> {
  const app = project.app;
  const bucket = project.secrets['BUCKET_NAME'] || bucketNameFor(app);
  const flyTomlNext = flyTomlWithSchedule(project.flyTomlText, every);
  const flyTomlStep: ScheduleStep =
    flyTomlNext === project.flyTomlText
      ? { id: 'fly-toml', action: 'skip', reason: every ? `[env] ${OFFSITE_ENV} = "${every}" already` : `[env] has no ${OFFSITE_ENV}: not scheduled` }
      : {
          id: 'fly-toml',
          action: 'write',
          reason: every ? `[env] ${OFFSITE_ENV} = "${every}" (the next clawdfly deploy carries it to the machine)` : `[env] without ${OFFSITE_ENV} (the next clawdfly deploy stops the uploads)`,
          file: PROJECT_FILES.flyToml,
          diff: unifiedDiff(project.flyTomlText, flyTomlNext, { from: `${PROJECT_FILES.flyToml} (now)`, to: `${PROJECT_FILES.flyToml} (after)` }),
        };
  if (every === undefined) return { app, bucket, steps: [flyTomlStep], flyTomlNext };

  if (!observed?.appExists) {
    throw new UsageError(`${app} does not exist on Fly yet: the off-site bucket belongs to the app`, 'clawdfly deploy  (then run this again)', 'not-deployed');
  }
  const local = offsiteSecrets(project.secrets);
  const onFly = new Set(observed.secrets.map((s) => s.name));
  const steps: ScheduleStep[] = [];
  if (local.credentials) steps.push({ id: 'bucket', action: 'skip', reason: `${bucket} (its credentials are in ${PROJECT_FILES.secrets})` });
  else {
    // Fly would make the bucket but set none of its credentials: refused before it is made.
    const clash = STORAGE_SECRET_NAMES.filter((n) => onFly.has(n));
    if (clash.length) {
      throw new ClawdflyError(`${app} already has the secrets ${clash.join(', ')} (a bucket made elsewhere?), and ${PROJECT_FILES.secrets} does not: Fly would not set the new bucket's credentials`, {
        hint: `copy ${PROJECT_FILES.secrets} from the computer that ran clawdfly backup schedule; or remove them: fly secrets unset ${clash.join(' ')} -a ${app} --stage  (then run this again)`,
        code: 'storage-secrets-exist',
        exitCode: 2,
      });
    }
    steps.push({ id: 'bucket', action: 'create', reason: `a private Tigris bucket; Fly sets its ${STORAGE_SECRET_NAMES.length} credentials on ${app} and restarts its machine`, argv: fly.createStorageArgv(bucketNameFor(app)) });
  }
  const key = local.key ? undefined : generateBackupKey();
  if (key) registerSecret(key);
  const written = [...(local.credentials ? [] : STORAGE_SECRET_NAMES), ...(key ? [BACKUP_KEY_NAME] : [])];
  steps.push(
    written.length
      ? { id: 'secrets-file', action: 'write', reason: `${written.join(', ')} (mode 0600, git-ignored)`, file: PROJECT_FILES.secrets }
      : { id: 'secrets-file', action: 'skip', reason: `the bucket's credentials and ${BACKUP_KEY_NAME} are there` },
  );
  const state = await readDeployState(project.dir, app);
  const value = key ?? local.key!;
  const ours = state.secrets[BACKUP_KEY_NAME]?.valueHash === valueHash(state.salt, value);
  steps.push(
    onFly.has(BACKUP_KEY_NAME) && ours
      ? { id: 'key', action: 'skip', reason: `${BACKUP_KEY_NAME} is set on ${app}` }
      : {
          id: 'key',
          action: 'set',
          reason: `${BACKUP_KEY_NAME} ${key ? 'is new' : onFly.has(BACKUP_KEY_NAME) ? 'on Fly is not the one in secrets.env' : 'is missing on Fly'} (staged: the next deploy applies it)`,
          argv: fly.secretsImportArgv(true),
          stdin: [`${BACKUP_KEY_NAME}=***`],
        },
  );
  steps.push(flyTomlStep);
  return { app, every, bucket, steps, key, flyTomlNext };
}

/** Runs exactly the plan's steps, in order. */
export async function applySchedule(project: Project, fly: FlyClient, plan: SchedulePlan, onStep?: (step: ScheduleStep) => void): Promise<void> {
  const step = (id: ScheduleStepId) => plan.steps.find((s) => s.id === id && s.action !== 'skip');
  let secrets = { ...project.secrets };
  let created: StorageCredentials | undefined;
  if (step('bucket')) {
    onStep?.(step('bucket')!);
    created = await fly.createStorage(bucketNameFor(plan.app));
  }
  if (step('secrets-file')) {
    onStep?.(step('secrets-file')!);
    secrets = { ...secrets, ...(created ?? {}), ...(plan.key ? { [BACKUP_KEY_NAME]: plan.key } : {}) };
    await writeSecrets(project.dir, secrets);
  }
  if (step('key')) {
    onStep?.(step('key')!);
    const key = secrets[BACKUP_KEY_NAME]!;
    await fly.importSecrets(formatSecretsImport({ [BACKUP_KEY_NAME]: key }), true);
  }
  // The bucket's credentials (deployed by Fly) and the key (staged) are clawdfly's own from now on:
  // the next deploy neither sets them again nor counts them as changed.
  if (created || step('key')) {
    await recordAppliedSecrets(project.dir, plan.app, { ...(created ?? {}), ...(step('key') ? { [BACKUP_KEY_NAME]: secrets[BACKUP_KEY_NAME]! } : {}) }, stagedSecrets(secrets));
  }
  if (step('fly-toml')) {
    onStep?.(step('fly-toml')!);
    await writeFlyToml(project, plan);
  }
}

/** fly.toml, answers.json (re-runs of init and upgrade keep the schedule) and written.json, in that order. */
async function writeFlyToml(project: Project, plan: SchedulePlan): Promise<void> {
  const written = await readWrittenHashes(project.dir, PROJECT_FILES.written);
  const untouched = written[PROJECT_FILES.flyToml] === sha256(project.flyTomlText);
  await writeFileAtomic(join(project.dir, PROJECT_FILES.flyToml), plan.flyTomlNext, 0o644);
  if (project.answers) {
    const { offsiteEvery: _old, ...rest } = project.answers;
    const answers = plan.every ? { ...rest, offsiteEvery: plan.every } : rest;
    await writeFileAtomic(join(project.dir, PROJECT_FILES.answers), JSON.stringify(answers, null, 2) + '\n');
  }
  // A file still as clawdfly wrote it stays "clawdfly's" (init may regenerate it without a conflict).
  if (untouched) await writeFileAtomic(join(project.dir, PROJECT_FILES.written), JSON.stringify({ ...written, [PROJECT_FILES.flyToml]: sha256(plan.flyTomlNext) }, null, 2) + '\n');
}
