/**
 * What both local engines share: the state folder (.clawdfly/local-data, the local twin of the
 * Fly volume), the config seeded into it on first run, the loopback port, the environment built
 * from fly.toml's [env] + .clawdfly/secrets.env, and the 0600 env-file that carries secrets to a
 * container engine without putting them on its argv.
 */
import { allProviderKeyNames } from '../gateway/providers.js';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { UsageError } from '../errors.js';
import { checkConfigText, parseConfigText } from '../gateway/config-file.js';
import { CHANNEL_TOKENS, secretNames, TMP_SUBDIR } from '../gateway/runtime.js';
import { PROJECT_FILES } from '../project/paths.js';
import type { Project } from '../project/project.js';
import { readTextIfExists } from '../util/fs.js';

/** `from` itself or a path under it, moved to `to`; anything else unchanged. */
export function remapStatePath(value: string, from: string, to: string): string {
  if (value === from) return to;
  if (value.startsWith(`${from}/`)) return `${to}${value.slice(from.length)}`;
  return value;
}

/**
 * Every string in a config that names a path under the state dir, moved to another state dir
 * (e.g. agents.defaults.workspace "<state dir>/workspace" → "<project>/.clawdfly/local-data/workspace"
 * for the host run). Returns the dotted paths it changed.
 */
export function remapConfigPaths(value: unknown, from: string, to: string, path = ''): { value: unknown; changed: string[] } {
  if (typeof value === 'string') {
    const next = remapStatePath(value, from, to);
    return { value: next, changed: next !== value ? [path || '<root>'] : [] };
  }
  if (Array.isArray(value)) {
    const changed: string[] = [];
    const next = value.map((item, i) => {
      const r = remapConfigPaths(item, from, to, path ? `${path}.${i}` : String(i));
      changed.push(...r.changed);
      return r.value;
    });
    return { value: next, changed };
  }
  if (value && typeof value === 'object') {
    const changed: string[] = [];
    const next: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const r = remapConfigPaths(v, from, to, path ? `${path}.${k}` : k);
      changed.push(...r.changed);
      next[k] = r.value;
    }
    return { value: next, changed };
  }
  return { value, changed: [] };
}

export interface LocalLayout {
  /** Absolute .clawdfly/local-data (the volume). */
  dataDir: string;
  /** The config file inside it. */
  configFile: string;
  /** Where the gateway expects its state on the machine (fly.toml [env]). */
  remoteStateDir: string;
}

export function localLayout(project: Project): LocalLayout {
  const dataDir = join(project.dir, PROJECT_FILES.localData);
  return { dataDir, configFile: join(dataDir, project.runtime.configFileName), remoteStateDir: project.stateDir };
}

export type ConfigSeedResult =
  | { action: 'seeded'; remapped: string[] }
  | { action: 'kept'; remapped: string[] }
  | { action: 'none' };

/**
 * Validates the project's config before anything is written (an invalid one is refused: exit 2).
 * Only when the state folder has no config yet: the project's config goes in, with state paths
 * moved to `stateDirSeenByGateway`.
 */
export async function checkProjectConfig(project: Project): Promise<void> {
  if (project.configText === undefined) return;
  const check = checkConfigText(project.configText, project.runtime);
  if (!check.ok) {
    const first = check.problems[0]!;
    throw new UsageError(
      `${project.runtime.configFileName} is not a config the gateway accepts: ${first.path}: ${first.message}${check.problems.length > 1 ? ` (+${check.problems.length - 1} more)` : ''}`,
      `clawdfly config validate --dir ${project.dir}`,
      'config-invalid',
    );
  }
}

/**
 * The config in the state folder: seeded from the project's on first run; on later runs the
 * gateway's own copy is kept (it rewrites it), only state paths written for the other engine
 * (`<state dir>/…` on the host, the host folder in a container) are moved to this one's.
 */
export async function seedConfig(project: Project, layout: LocalLayout, stateDirSeenByGateway: string): Promise<ConfigSeedResult> {
  const existing = await readTextIfExists(layout.configFile);
  // Paths as the other engine would have written them.
  const other = stateDirSeenByGateway === layout.remoteStateDir ? layout.dataDir : layout.remoteStateDir;
  if (existing === undefined) {
    if (project.configText === undefined) return { action: 'none' };
    const parsed = parseConfigText(project.configText).value;
    const r = remapConfigPaths(parsed, layout.remoteStateDir, stateDirSeenByGateway);
    await mkdir(layout.dataDir, { recursive: true });
    await writeFile(layout.configFile, JSON.stringify(r.value, null, 2) + '\n', { mode: 0o600 });
    await chmod(layout.configFile, 0o600);
    return { action: 'seeded', remapped: r.changed };
  }
  let parsed: unknown;
  try {
    parsed = parseConfigText(existing).value;
  } catch {
    return { action: 'kept', remapped: [] }; // the gateway reports its own parse error
  }
  const r = remapConfigPaths(parsed, other, stateDirSeenByGateway);
  if (r.changed.length > 0) {
    await writeFile(layout.configFile, JSON.stringify(r.value, null, 2) + '\n', { mode: 0o600 });
  }
  return { action: 'kept', remapped: r.changed };
}

/** Refuses a host port that is taken on 127.0.0.1 before anything starts. */
export async function assertPortFree(port: number): Promise<void> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`--port must be a port number (1-65535), got ${String(port)}`, '--port 3000', 'bad-port');
  }
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  if (!free) throw new UsageError(`port ${port} on 127.0.0.1 is already in use`, `--port <another port>, or stop what listens on ${port}`, 'port-in-use');
}

/** The project's secrets, as the machine's environment. */
export function gatewaySecrets(project: Project): Record<string, string> {
  // Everything in secrets.env is what `deploy` stages as Fly secrets, i.e. the machine's environment.
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(project.secrets)) if (value && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) result[name] = value;
  return result;
}

/** Channel tokens among them: a local gateway with them connects to the same bots as the deployed one. */
export function channelTokensIn(secrets: Record<string, string>): string[] {
  return Object.values(CHANNEL_TOKENS).filter((name) => secrets[name]);
}

/**
 * Environment of the gateway on the host: the user's environment without the gateway's own
 * variables, fly.toml's [env] with state paths moved into the state folder, the project's
 * secrets, and the local overrides (state dir, TMPDIR on the state folder for warm boots, HOME
 * inside it like the container's, no mDNS). `nodeDir` goes first on PATH.
 */
export function hostGatewayEnv(project: Project, layout: LocalLayout, nodeDir: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const runtimeEnv = project.runtime.env;
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of [...Object.values(runtimeEnv), ...secretNames(project.runtime), ...allProviderKeyNames()]) delete env[name];
  for (const [k, v] of Object.entries(project.fly.env)) env[k] = remapStatePath(v, layout.remoteStateDir, layout.dataDir);
  Object.assign(env, gatewaySecrets(project));
  env[runtimeEnv.stateDir] = layout.dataDir;
  env['TMPDIR'] = join(layout.dataDir, TMP_SUBDIR);
  env['HOME'] = join(layout.dataDir, 'home');
  env[runtimeEnv.disableBonjour] = '1';
  env['PATH'] = `${nodeDir}${delimiter}${base['PATH'] ?? ''}`;
  return env;
}

/**
 * Environment of the container: fly.toml's [env] as Fly sets it, plus the secrets (never on argv).
 * The gateway's port variable (unless [env] sets it) makes the image's CMD, which has no --port,
 * listen on internal_port when fly.toml has no [processes] command; --port beats it otherwise.
 */
export function containerGatewayEnv(project: Project, internalPort: number): Record<string, string> {
  return { [project.runtime.env.gatewayPort]: String(internalPort), ...project.fly.env, [project.runtime.env.disableBonjour]: '1', ...gatewaySecrets(project) };
}

/**
 * Writes `NAME=value` lines to a 0600 file in a fresh 0700 temp folder, runs `fn` with its path,
 * and removes the folder whatever happens. Values with a newline cannot be in an env-file: they
 * are returned in `byName` for the caller to pass as `-e NAME` from the child's environment.
 */
export async function withEnvFile<T>(vars: Record<string, string>, fn: (file: string, byName: Record<string, string>) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'clawdfly-env-'));
  const file = join(dir, 'env');
  const lines: string[] = [];
  const byName: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new UsageError(`cannot pass the variable name "${k}" to a container`, 'rename it in fly.toml [env] or .clawdfly/secrets.env');
    if (/[\r\n]/.test(v)) byName[k] = v;
    else lines.push(`${k}=${v}`);
  }
  try {
    await writeFile(file, lines.join('\n') + '\n', { mode: 0o600 });
    await chmod(file, 0o600);
    return await fn(file, byName);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
