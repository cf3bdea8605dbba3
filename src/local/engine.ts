/**
 * Which engine `clawdfly up --local` runs the gateway with: the project's image in podman or
 * docker (the "local Fly machine"), else the runtime bundle on a host Node. The choice is a pure
 * function of what was asked and what was found (unit-tested); probing is separate.
 *
 * podman's defaults do not work on every host (shared/reference/local-image.md): crun refuses a
 * hybrid cgroup v1 host and the default ulimits may not be settable. Those failures are recognised
 * from podman's own error text and fixed by the known flags, and what worked is remembered in
 * ~/.cache/clawdfly so the next run starts with it.
 */
import { findOnPath, runProcess, type ProcessResult } from '../util/process.js';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir, platform } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { findOnPath as which } from '../util/find-on-path.js';

export type EngineKind = 'podman' | 'docker' | 'node';
export type EngineRequest = 'auto' | EngineKind;
export const ENGINE_REQUESTS: readonly EngineRequest[] = ['auto', 'podman', 'docker', 'node'];

export interface ContainerProbe {
  /** Path of the binary, when it is on PATH. */
  path?: string;
  /** The engine answered `version` (docker: the daemon answered; podman: the service/VM answered). */
  works: boolean;
  /** Why it does not work (first line of its error). */
  detail?: string;
}

export interface EngineProbe {
  podman: ContainerProbe;
  docker: ContainerProbe;
}

export interface EngineDecision {
  kind: EngineKind;
  /** Binary of the container engine (absent for node). */
  path?: string;
  /** One line per engine considered, for --verbose. */
  reasons: string[];
}

function describe(name: string, probe: ContainerProbe): string {
  if (!probe.path) return `${name}: not found on PATH`;
  if (!probe.works) return `${name}: ${probe.path} does not answer${probe.detail ? ` (${probe.detail})` : ''}`;
  return `${name}: ${probe.path} works`;
}

/**
 * auto: podman when it works, else docker when its daemon answers, else Node on the host.
 * `--node PATH` means the host path; combining it with a container engine is refused.
 */
export function chooseEngine(request: EngineRequest, probe: EngineProbe, opts: { nodeGiven?: boolean } = {}): EngineDecision {
  if (!ENGINE_REQUESTS.includes(request)) {
    throw new UsageError(`unknown engine "${String(request)}"`, '--engine auto|podman|docker|node', 'bad-engine');
  }
  if (opts.nodeGiven && (request === 'podman' || request === 'docker')) {
    throw new UsageError(`--node only applies to the host engine, not --engine ${request}`, `drop --node, or use --engine node`, 'engine-conflict');
  }
  if (opts.nodeGiven || request === 'node') {
    return { kind: 'node', reasons: [opts.nodeGiven ? 'node: --node given' : 'node: --engine node given'] };
  }
  const reasons = [describe('podman', probe.podman), describe('docker', probe.docker)];
  for (const kind of ['podman', 'docker'] as const) {
    if (request !== 'auto' && request !== kind) continue;
    const p = probe[kind];
    if (p.path && p.works) return { kind, path: p.path, reasons };
    if (request === kind) {
      if (!p.path) throw new UsageError(`${kind} is not installed (not found on PATH)`, `install ${kind}, or run on the host: --engine node`, 'engine-missing');
      throw new UsageError(
        `${kind} is installed but does not answer${p.detail ? `: ${p.detail}` : ''}`,
        kind === 'docker' ? 'start the Docker daemon (or Docker Desktop), or --engine podman|node' : 'fix podman (podman info), or --engine docker|node',
        'engine-down',
      );
    }
  }
  return { kind: 'node', reasons: [...reasons, 'node: no working container engine, running the runtime bundle on the host'] };
}

/** Kept under its old name for the local-run code and its tests. */
export { which };

export type Captured = ProcessResult;

/** Runs a command (argv, no shell), collects its output; never throws for a non-zero exit. */
export function capture(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; cwd?: string } = {}): Promise<Captured> {
  return runProcess(cmd, args, opts);
}

function firstLine(text: string): string | undefined {
  return text.split('\n').map((l) => l.trim()).find(Boolean)?.replace(/^Error:\s*/, '');
}

async function probeContainer(name: 'podman' | 'docker', env: NodeJS.ProcessEnv): Promise<ContainerProbe> {
  const path = findOnPath(name, env['PATH']);
  if (!path) return { works: false };
  if (name === 'podman' && platform() === 'linux') {
    // podman on Linux has no daemon to ask; `podman version` would wait for the storage lock,
    // which a running build holds for minutes. Runs at all = usable; run errors are handled later.
    const v = await capture(path, ['--version'], { env, timeoutMs: 20_000 });
    return v.code === 0 ? { path, works: true } : { path, works: false, detail: firstLine(v.stderr) ?? `exit ${v.code}` };
  }
  // Both print the server's version only when the daemon / service (podman machine) answers.
  const r = await capture(path, ['version', '--format', '{{.Server.Version}}'], { env, timeoutMs: 60_000 });
  if (r.code === 0 && r.stdout.trim() && !/<no value>/.test(r.stdout)) return { path, works: true };
  // podman without a remote service prints no server section but still runs containers locally.
  if (name === 'podman' && r.code === 0) return { path, works: true };
  return { path, works: false, detail: firstLine(r.stderr) ?? firstLine(r.stdout) ?? `exit ${r.code}` };
}

export async function probeEngines(env: NodeJS.ProcessEnv = process.env): Promise<EngineProbe> {
  const [podman, docker] = await Promise.all([probeContainer('podman', env), probeContainer('docker', env)]);
  return { podman, docker };
}

// ---------------------------------------------------------------------------------------------
// podman settings that work on this host

export interface PodmanSettings {
  /** Global flags put before every sub-command. */
  flags: string[];
  /** Use the containers.conf that empties default_ulimits (CONTAINERS_CONF). */
  noDefaultUlimits: boolean;
  /** Why each setting is there, for --verbose. */
  why: string[];
}

export const DEFAULT_PODMAN_SETTINGS: PodmanSettings = { flags: [], noDefaultUlimits: false, why: [] };

export interface PodmanFix {
  id: 'runc-cgroupfs' | 'no-default-ulimits' | 'vfs';
  why: string;
}

/** The fixes podman's error text asks for, not yet in `current` (local-image.md "What works"). */
export function podmanFixesFor(errorText: string, current: PodmanSettings, opts: { runcAvailable: boolean }): PodmanFix[] {
  const fixes: PodmanFix[] = [];
  const has = (flag: string) => current.flags.includes(flag);
  if (/cgroups in hybrid mode not supported/i.test(errorText) && !has('runc') && opts.runcAvailable) {
    fixes.push({ id: 'runc-cgroupfs', why: 'crun refuses this host\'s hybrid cgroups ("cgroups in hybrid mode not supported"): using --runtime runc --cgroup-manager cgroupfs' });
  }
  if (/error setting rlimit|setrlimit RLIMIT_|rlimit type \d+: operation not permitted/i.test(errorText) && !current.noDefaultUlimits) {
    fixes.push({ id: 'no-default-ulimits', why: 'podman\'s default ulimits cannot be set here ("error setting rlimit"): using a containers.conf with default_ulimits = []' });
  }
  if (/overlay.*(not supported|invalid argument)|driver not supported/i.test(errorText) && !has('vfs')) {
    fixes.push({ id: 'vfs', why: 'the overlay storage driver does not work here: using --storage-driver vfs' });
  }
  return fixes;
}

export function applyPodmanFixes(settings: PodmanSettings, fixes: PodmanFix[]): PodmanSettings {
  const next: PodmanSettings = { flags: [...settings.flags], noDefaultUlimits: settings.noDefaultUlimits, why: [...settings.why] };
  for (const fix of fixes) {
    if (fix.id === 'runc-cgroupfs') next.flags.push('--runtime', 'runc', '--cgroup-manager', 'cgroupfs');
    if (fix.id === 'vfs') next.flags.push('--storage-driver', 'vfs');
    if (fix.id === 'no-default-ulimits') next.noDefaultUlimits = true;
    next.why.push(fix.why);
  }
  return next;
}

export function clawdflyCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'clawdfly');
}

export const CONTAINERS_CONF_TEXT = ['# written by clawdfly (up --local): podman\'s default ulimits cannot be set on this host', '[containers]', 'default_ulimits = []', ''].join('\n');

/** Environment for podman with these settings (CONTAINERS_CONF written on demand). */
export async function podmanEnv(settings: PodmanSettings, base: NodeJS.ProcessEnv = process.env): Promise<NodeJS.ProcessEnv> {
  if (!settings.noDefaultUlimits) return base;
  const dir = clawdflyCacheDir(base);
  const conf = join(dir, 'containers.conf');
  if (!existsSync(conf) || readFileSync(conf, 'utf8') !== CONTAINERS_CONF_TEXT) {
    await mkdir(dir, { recursive: true });
    await writeFile(conf, CONTAINERS_CONF_TEXT);
  }
  return { ...base, CONTAINERS_CONF: conf };
}

function settingsFile(env: NodeJS.ProcessEnv): string {
  return join(clawdflyCacheDir(env), 'podman-settings.json');
}

/** Settings remembered for this podman binary + version (and user), or the defaults. */
export function loadPodmanSettings(key: string, env: NodeJS.ProcessEnv = process.env): PodmanSettings {
  try {
    const all = JSON.parse(readFileSync(settingsFile(env), 'utf8')) as Record<string, PodmanSettings>;
    const found = all[key];
    if (found && Array.isArray(found.flags)) return { flags: found.flags, noDefaultUlimits: found.noDefaultUlimits === true, why: found.why ?? [] };
  } catch {
    /* nothing remembered */
  }
  return DEFAULT_PODMAN_SETTINGS;
}

export async function savePodmanSettings(key: string, settings: PodmanSettings, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const file = settingsFile(env);
  let all: Record<string, PodmanSettings> = {};
  try {
    all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, PodmanSettings>;
  } catch {
    /* first one */
  }
  all[key] = settings;
  await mkdir(clawdflyCacheDir(env), { recursive: true });
  await writeFile(file, JSON.stringify(all, null, 2) + '\n');
}
