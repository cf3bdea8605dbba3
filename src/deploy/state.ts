/**
 * .clawdfly/state.json: what the last successful deploy steps did, so a re-run can tell "changed"
 * from "same" without asking Fly for anything it cannot answer (Fly never shows a secret back).
 * Holds no secret values: only salted, truncated hashes of them and flyctl's own digests.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { PROJECT_FILES } from '../project/paths.js';
import { readTextIfExists, writeFileAtomic } from '../util/fs.js';

export const DEPLOY_STATE_FILE = `${PROJECT_FILES.stateDir}/state.json`;

export interface SecretRecord {
  /** sha256(salt + value), 16 hex: "is the local value still the one we set?" */
  valueHash: string;
  /** flyctl's `secrets list` digest, adopted the first time we see it after setting the value. */
  digest?: string;
  setAt: string;
}

export interface DeployRecord {
  /** Hash of the image's inputs: Dockerfile, runtime/, fly.toml (+ .dockerignore); not the config (see INPUT_FILES). */
  inputsHash: string;
  /** Hash of the secret value hashes the deploy applied. */
  secretsHash: string;
  /** Empty while `fly deploy` has finished but its machine was not seen yet (an interrupted run). */
  machineId: string;
  /** `repository:tag@digest` of the machine's image right after the deploy ('' until seen, as machineId). */
  imageRef: string;
  releaseVersion?: string;
  at: string;
}

export interface DeployState {
  version: 1;
  app: string;
  salt: string;
  secrets: Record<string, SecretRecord>;
  deploy?: DeployRecord;
}

export async function readDeployState(dir: string, app: string): Promise<DeployState> {
  const text = await readTextIfExists(join(dir, DEPLOY_STATE_FILE));
  if (text) {
    try {
      const state = JSON.parse(text) as DeployState;
      // State of another app (the user renamed it in fly.toml) says nothing about this one.
      if (state.version === 1 && state.app === app && typeof state.salt === 'string') return { ...state, secrets: state.secrets ?? {} };
    } catch {
      // unreadable: start over (the plan is recomputed from observed state anyway)
    }
  }
  return { version: 1, app, salt: randomBytes(16).toString('hex'), secrets: {} };
}

export async function writeDeployState(dir: string, state: DeployState): Promise<void> {
  // 0600: it holds the salt beside the salted secret hashes
  await writeFileAtomic(join(dir, DEPLOY_STATE_FILE), JSON.stringify(state, null, 2) + '\n', 0o600);
}

export function valueHash(salt: string, value: string): string {
  return createHash('sha256').update(salt).update('\0').update(value).digest('hex').slice(0, 16);
}

/** One hash over the secret set (names and value hashes, sorted). */
export function secretsSetHash(salt: string, secrets: Record<string, string>): string {
  const h = createHash('sha256');
  for (const name of Object.keys(secrets).sort()) h.update(`${name}=${valueHash(salt, secrets[name]!)}\n`);
  return h.digest('hex').slice(0, 16);
}

/**
 * Files whose change needs a new image. The gateway config is copied into the image too, but only
 * to seed an empty volume on first boot: once live it is the volume's business (`config push` and
 * deploy's config step write it over ssh, hot-reloaded), so a config edit alone never rebuilds.
 */
const INPUT_FILES = [PROJECT_FILES.dockerfile, PROJECT_FILES.dockerignore, PROJECT_FILES.flyToml];
const SKIP_DIRS = new Set(['node_modules', '.git']);

export async function listFiles(root: string, sub: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (abs: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) await walk(join(abs, entry.name));
      } else if (entry.isFile()) {
        files.push(relative(root, join(abs, entry.name)).split(sep).join('/'));
      }
    }
  };
  await walk(join(root, sub));
  return files;
}

/**
 * Records secrets that were set on Fly and applied to the machine outside deploy (`token --rotate`),
 * so the next deploy sees them as its own: no re-staging, no redeploy. Fly's digest of the new value
 * is learned again by the next deploy.
 */
export async function recordAppliedSecrets(dir: string, app: string, applied: Record<string, string>, allStaged: Record<string, string>): Promise<void> {
  const state = await readDeployState(dir, app);
  const now = new Date().toISOString();
  for (const [name, value] of Object.entries(applied)) state.secrets[name] = { valueHash: valueHash(state.salt, value), setAt: now };
  if (state.deploy) state.deploy.secretsHash = secretsSetHash(state.salt, allStaged);
  await writeDeployState(dir, state);
}

/** sha256 over path, mode and bytes of every build input, in a fixed order. */
export async function buildInputsHash(dir: string): Promise<string> {
  const files = [...INPUT_FILES, ...(await listFiles(dir, PROJECT_FILES.runtimeDir))];
  const h = createHash('sha256');
  for (const file of files) {
    const abs = join(dir, file);
    let bytes: Buffer;
    let mode = 0;
    try {
      bytes = await readFile(abs);
      mode = (await stat(abs)).mode & 0o111 ? 1 : 0;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      h.update(`${file}\0missing\0`);
      continue;
    }
    h.update(`${file}\0${mode}\0${bytes.length}\0`);
    h.update(bytes);
  }
  return h.digest('hex').slice(0, 32);
}

/** The image identity we compare re-runs against. */
export function imageRefOf(machine: { image_ref?: { repository?: string; tag?: string; digest?: string } | null; config?: { image?: string } | null }): string {
  const ref = machine.image_ref;
  if (ref && (ref.tag || ref.digest)) return `${ref.repository ?? ''}:${ref.tag ?? ''}@${ref.digest ?? ''}`;
  return machine.config?.image ?? '';
}
