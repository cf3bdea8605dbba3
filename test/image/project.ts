/**
 * The canonical project (the real `clawdfly init --yes` with fixed answers) and its real image,
 * plus `flyMachineOptions()`: fly.toml read the way Fly reads it, as runMachine options.
 * Shared by the image tests, the end-to-end journey and bench/boot.mjs.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runCli, TEST_SECRETS } from '../helpers/cli.js';
import { buildImage, type BuildResult, type MachineOptions } from '../support/podman.js';
import { parseSecretsEnv } from '../../src/project/secrets.js';
// The double's own TOML parser and shell splitter, written apart from src/: a bug in the CLI's
// fly.toml reading then shows up as a difference instead of being repeated by the test.
import { loadAppConfig, toMachineConfig } from '../fakefly/lib/appconfig.mjs';
import { shlexSplit } from '../fakefly/lib/shlex.mjs';

/** The fixed answers of the canonical project. The same answers always give the same image hash. */
export const CANONICAL_FLAGS = ['--app', 'clawdfly-canonical', '--region', 'iad'] as const;

/** Every variable init reads: none of the developer's own may leak into the canonical answers. */
const INIT_ENV: Record<string, string | undefined> = {
  ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY,
  OPENAI_API_KEY: TEST_SECRETS.OPENAI_API_KEY,
  GEMINI_API_KEY: undefined,
  DISCORD_BOT_TOKEN: undefined,
  TELEGRAM_BOT_TOKEN: undefined,
  CLAWDBOT_GATEWAY_TOKEN: undefined,
  OPENCLAW_GATEWAY_TOKEN: undefined,
  CLAWDFLY_DIR: undefined,
  CLAWDFLY_APP: undefined,
  CLAWDFLY_REGION: undefined,
  CLAWDFLY_VM_SIZE: undefined,
  CLAWDFLY_MEMORY: undefined,
  CLAWDFLY_VOLUME: undefined,
  CLAWDFLY_VOLUME_SIZE: undefined,
  CLAWDFLY_PORT: undefined,
  CLAWDFLY_MODEL: undefined,
  CLAWDFLY_FALLBACKS: undefined,
  CLAWDFLY_RUNTIME: undefined,
};

const made: string[] = [];
/** Removes the project dirs this process made (call it from afterAll; also runs at process exit). */
export function removeCanonicalDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}
process.once('exit', removeCanonicalDirs);

/** A fresh project dir written by the real `clawdfly init --yes` (needs `npm run build`); removed at process exit. */
export async function initCanonical(extraFlags: string[] = [], env: Record<string, string | undefined> = {}): Promise<string> {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const parent = await mkdtemp(join(tmpdir(), 'clawdfly-canonical-'));
  made.push(parent);
  const dir = join(parent, 'gateway');
  // The canonical project is the seed's clawdbot one unless the caller names a runtime (init's default is OpenClaw).
  const runtime = extraFlags.includes('--runtime') ? [] : ['--runtime', 'clawdbot'];
  const r = await runCli(['init', '--yes', '--dir', dir, ...CANONICAL_FLAGS, ...runtime, ...extraFlags], { env: { ...INIT_ENV, ...env }, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`clawdfly init failed (exit ${r.code}):\n${r.stderr}`);
  return dir;
}

export interface CanonicalProject {
  /** A project dir of its own (callers may change it; the image was built before). */
  dir: string;
  /** Content-addressed image ref (`localhost/clawdfly-test-cache:<hash>`): stable while the templates are. */
  image: string;
  build: BuildResult;
}

/** Friendly tag that always points at the last canonical image built by this checkout. */
export const CANONICAL_TAG = 'localhost/clawdfly-test-canonical:latest';

/**
 * `clawdfly init --yes` with the canonical answers into a new temp dir, and its image built from
 * the unchanged generated Dockerfile (cached by content hash: a second call, or a second run with
 * the same templates, builds nothing).
 */
export async function canonicalProject(): Promise<CanonicalProject> {
  const dir = await initCanonical();
  const build = await buildImage(dir, CANONICAL_TAG);
  return { dir, image: `localhost/clawdfly-test-cache:${build.hash.slice(0, 32)}`, build };
}

/** Friendly tag of the last OpenClaw image built by this checkout. */
export const OPENCLAW_TAG = 'localhost/clawdfly-test-openclaw:latest';

/**
 * `clawdfly init --yes --runtime openclaw` with the canonical answers, and its image built from the
 * unchanged generated Dockerfile on the node:24 stand-in (cached by content hash like the canonical
 * one). Anthropic only: with any openai/* model configured, openclaw 2026.9.6 installs its codex
 * plugin at start and, offline, never listens.
 */
export async function openclawProject(): Promise<CanonicalProject> {
  const dir = await initCanonical(['--runtime', 'openclaw'], { OPENAI_API_KEY: undefined });
  const build = await buildImage(dir, OPENCLAW_TAG);
  return { dir, image: `localhost/clawdfly-test-cache:${build.hash.slice(0, 32)}`, build };
}

/**
 * Splits a command line the way flyctl splits `[processes]` (shell words: whitespace, '…', "…",
 * backslash escapes; no expansion).
 */
export const shellSplit = (line: string): string[] => shlexSplit(line);

export interface FlyMachineOverrides extends Partial<Omit<MachineOptions, 'env'>> {
  image: string;
  volumeDir: string;
  /** Merged over `[env]` + secrets; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
}

/**
 * fly.toml → runMachine options, exactly as Fly would start the machine: `[env]` plus the secrets
 * (`.clawdfly/secrets.env`, what `fly secrets import` set) as the environment, `[processes].app`
 * shell-split as the command (the image's ENTRYPOINT stays), `[[vm]] memory`, `internal_port`.
 */
export function flyMachineOptions(projectDir: string, overrides: FlyMachineOverrides): MachineOptions {
  // What flyctl's deploy makes of fly.toml, as the double computes it for a machine of group "app".
  const appConfig = loadAppConfig(join(projectDir, 'fly.toml'));
  const machine = toMachineConfig(appConfig, 'app', undefined, { flyctlVersion: 'test' });
  const command: string[] | undefined = machine.init?.cmd;
  const internalPort: number | undefined = machine.services?.[0]?.internal_port;
  const memoryMb: number | undefined = machine.guest?.memory_mb;
  if (!command?.length) throw new Error(`${projectDir}/fly.toml has no [processes].app`);
  if (internalPort === undefined) throw new Error(`${projectDir}/fly.toml has no [http_service].internal_port`);
  if (memoryMb === undefined) throw new Error(`${projectDir}/fly.toml has no [[vm]] memory`);
  const secretsFile = join(projectDir, '.clawdfly', 'secrets.env');
  const secrets = existsSync(secretsFile) ? parseSecretsEnv(readFileSync(secretsFile, 'utf8')) : {};
  const merged: Record<string, string | undefined> = { ...(appConfig.env as Record<string, string>), ...secrets, ...(overrides.env ?? {}) };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) if (v !== undefined) env[k] = v;
  const { env: _ignored, ...rest } = overrides;
  return {
    command,
    memoryMb,
    internalPort,
    ...rest,
    env,
  };
}

/** The project's secrets (gateway token, keys), e.g. to assert they never reach a log. */
export function projectSecretValues(projectDir: string): Record<string, string> {
  return parseSecretsEnv(readFileSync(join(projectDir, '.clawdfly', 'secrets.env'), 'utf8'));
}
