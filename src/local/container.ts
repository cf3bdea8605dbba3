/**
 * The container engines: the project's own Dockerfile built into an image and run the way a Fly
 * machine runs it (shared/reference/local-image.md): fly.toml's [env] and the secrets as the
 * environment (through a 0600 env-file, never argv), the [processes] command as the container
 * command, .clawdfly/local-data as the state dir, [[vm]] memory as --memory, internal_port published on
 * 127.0.0.1 only. The image is built only when its build context changed, and the stopped container
 * is kept and started again while nothing it was created with changed (see startContainer).
 */
import type { ChildProcess } from '../util/process.js';
import { findOnPath, spawnProcess } from '../util/process.js';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { lstat, readdir, readFile, lchown, mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ClawdflyError, UsageError } from '../errors.js';
import { GATEWAY_UID } from '../gateway/runtime.js';
import { PROJECT_FILES } from '../project/paths.js';
import type { Project } from '../project/project.js';
import { out } from '../ui/output.js';
import {
  applyPodmanFixes,
  capture,
  clawdflyCacheDir,
  loadPodmanSettings,
  podmanEnv,
  podmanFixesFor,
  savePodmanSettings,
  type Captured,
  type PodmanSettings,
} from './engine.js';
import { withEnvFile } from './prepare.js';
import { splitShellWords } from '../util/shell-words.js';

export const LOCAL_LABEL = 'clawdfly.local';
export const CONTEXT_LABEL = 'clawdfly.context';

/** A container engine with the settings that work on this host. */
export class ContainerEngine {
  private settings: PodmanSettings;
  private constructor(
    readonly kind: 'podman' | 'docker',
    readonly path: string,
    private readonly settingsKey: string,
  ) {
    this.settings = kind === 'podman' ? loadPodmanSettings(settingsKey) : { flags: [], noDefaultUlimits: false, why: [] };
  }

  static async open(kind: 'podman' | 'docker', path: string): Promise<ContainerEngine> {
    let key = path;
    if (kind === 'podman') {
      const v = await capture(path, ['--version'], { timeoutMs: 20_000 });
      key = `${path}@${v.stdout.trim()}#uid${process.getuid?.() ?? '?'}`;
    }
    const engine = new ContainerEngine(kind, path, key);
    if (engine.settings.why.length) for (const why of engine.settings.why) out.verbose(`podman (remembered for this host): ${why}`);
    return engine;
  }

  get name(): string {
    return this.kind;
  }

  /** The host-specific settings a container is created with (part of its fingerprint). */
  get creationSettings(): { flags: string[]; noDefaultUlimits: boolean } {
    return { flags: this.settings.flags, noDefaultUlimits: this.settings.noDefaultUlimits };
  }

  async env(extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
    return { ...(await podmanEnv(this.settings)), ...extra };
  }

  argv(args: string[]): string[] {
    return [...this.settings.flags, ...args];
  }

  async run(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Captured> {
    const argv = this.argv(args);
    out.verbose(`$ ${this.kind} ${argv.join(' ')}`);
    return capture(this.path, argv, { env: await this.env(opts.env), timeoutMs: opts.timeoutMs ?? 120_000, cwd: await engineWorkDir() });
  }

  /**
   * Runs `op`; when podman fails with an error this host is known for (hybrid cgroups, ulimits),
   * applies the fix, remembers it, explains it in --verbose, and runs `op` again.
   */
  async withFallback<T extends Captured>(what: string, op: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const r = await op();
      if (r.code === 0 || this.kind !== 'podman' || attempt >= 3) return r;
      const fixes = podmanFixesFor(`${r.stderr}\n${r.stdout}`, this.settings, { runcAvailable: findOnPath('runc') !== undefined });
      if (fixes.length === 0) return r;
      out.verbose(`${what} failed with podman's default settings on this host:`);
      for (const fix of fixes) out.verbose(`  ${fix.why}`);
      this.settings = applyPodmanFixes(this.settings, fixes);
      await savePodmanSettings(this.settingsKey, this.settings);
      out.verbose(`  remembered in ~/.cache/clawdfly/podman-settings.json; retrying`);
    }
  }
}

/** The project's image: one tag per app, replaced when the build context changes. */
export function imageTag(project: Project): string {
  return `localhost/clawdfly-local/${project.app}:latest`;
}

export function containerName(project: Project): string {
  return `clawdfly-local-${project.app}`.replace(/[^A-Za-z0-9_.-]/g, '-');
}

/** Never part of the context, whatever .dockerignore says: local state and secrets. */
const ALWAYS_IGNORED = ['.clawdfly', '.git', 'node_modules'];

/**
 * The .dockerignore rules as a predicate over context-relative paths (Docker's semantics: patterns
 * from the context root, `*` within a path segment, `**` across segments, `!` re-includes, the
 * last matching rule wins, an excluded folder excludes what is in it).
 */
export function dockerignoreMatcher(text: string): (rel: string) => boolean {
  const rules = [...ALWAYS_IGNORED, ...text.split('\n')]
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '').replace(/^\.\//, '');
      const source = pattern
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) => (part === '**/' ? '(?:.*/)?' : part === '**' ? '.*' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('');
      return { negate, re: new RegExp(`^${source}(?:/.*)?$`) };
    });
  return (rel) => {
    let ignored = false;
    for (const r of rules) if (r.re.test(rel)) ignored = !r.negate;
    return ignored;
  };
}

/**
 * sha256 over the build context (paths, exec bits, contents) as the builder sees it: what
 * .dockerignore excludes (local state, secrets, runtime/node_modules, logs) cannot change the
 * hash, so a run that leaves such files behind does not cost the next run a build.
 */
export async function contextHash(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const dockerignore = dockerignoreMatcher(await readFile(join(dir, '.dockerignore'), 'utf8').catch(() => ''));
  const dockerfile = await readFile(join(dir, PROJECT_FILES.dockerfile), 'utf8').catch(() => undefined);
  const sources = dockerfile === undefined ? undefined : copiedSources(dockerfile);
  // Only what the build reads: fly.toml (port, memory, [env]) is run-time configuration.
  const used = (rel: string, isDir: boolean): boolean =>
    sources === undefined ||
    rel === PROJECT_FILES.dockerfile ||
    rel === '.dockerignore' ||
    sources.some((src) => rel === src || rel.startsWith(`${src}/`) || (isDir && src.startsWith(`${rel}/`)));
  const ignored = (rel: string, isDir: boolean): boolean => dockerignore(rel) || !used(rel, isDir);
  const walk = async (d: string): Promise<void> => {
    const entries = (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const p = join(d, e.name);
      const rel = relative(dir, p);
      if (ignored(rel, e.isDirectory())) continue;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await lstat(p);
        hash.update(`${rel}\0${st.mode & 0o111 ? 'x' : '-'}\0`);
        hash.update(await readFile(p));
        hash.update('\0');
      }
    }
  };
  await walk(dir);
  return hash.digest('hex').slice(0, 24);
}

/**
 * The context paths the Dockerfile's COPY/ADD instructions read (normalised, no leading ./), or
 * undefined when that cannot be told exactly (`COPY . …`, wildcards, variables): then the whole
 * context counts.
 */
export function copiedSources(dockerfile: string): string[] | undefined {
  const sources: string[] = [];
  const lines = dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  for (const line of lines) {
    const m = /^\s*(COPY|ADD)\s+(.*)$/i.exec(line);
    if (!m) continue;
    let args: string[];
    const rest = m[2]!.trim();
    const flags = rest.match(/^(?:--\S+\s+)*/)![0];
    if (/--from=/.test(flags)) continue; // from another stage or image, not the context
    const body = rest.slice(flags.length).trim();
    if (body.startsWith('[')) {
      try {
        args = JSON.parse(body) as string[];
      } catch {
        return undefined;
      }
    } else args = body.split(/\s+/);
    for (const src of args.slice(0, -1)) {
      const clean = src.replace(/^\.\//, '').replace(/\/+$/, '');
      if (!clean || clean === '.' || /[*?[$]|(^|\/)\.\.(\/|$)|^\//.test(clean) || /^[a-z]+:\/\//i.test(clean)) return undefined;
      sources.push(clean);
    }
  }
  return sources;
}

export interface ImageResult {
  tag: string;
  /** The image's id: a container made from another id is recreated. */
  id: string;
  built: boolean;
  seconds: number;
  /** The project's previous image, untagged by this build: removed once the gateway listens (off the critical path). */
  replaced?: string;
}

/** Builds the project's Dockerfile, unless an image of the same context already exists. */
export async function ensureImage(engine: ContainerEngine, project: Project, opts: { rebuild?: boolean; onProgress: (text: string) => void }): Promise<ImageResult> {
  const started = Date.now();
  const tag = imageTag(project);
  const hash = await contextHash(project.dir);
  const existing = await engine.run(['image', 'inspect', '--format', `{{.Id}} {{index .Config.Labels "${CONTEXT_LABEL}"}}`, tag], { timeoutMs: 300_000 });
  const [oldId, oldHash] = existing.code === 0 ? existing.stdout.trim().split(/\s+/) : [];
  if (!opts.rebuild && oldId && oldHash === hash) {
    out.verbose(`image ${tag} is up to date (build context ${hash})`);
    return { tag, id: oldId, built: false, seconds: (Date.now() - started) / 1000 };
  }
  // A mirror the user chose (init --npm-registry) for the image's npm ci: a build-arg of the Dockerfile.
  const registry = project.answers?.npmRegistry;
  const registryArgs = registry ? ['--build-arg', `NPM_REGISTRY=${registry}`] : [];
  const args = ['build', '--network', 'host', ...registryArgs, '--label', `${CONTEXT_LABEL}=${hash}`, '--label', `${LOCAL_LABEL}=${project.dir}`, '-t', tag, '-f', join(project.dir, PROJECT_FILES.dockerfile), project.dir];
  const r = await engine.withFallback('the image build', () => streamed(engine, args, opts.onProgress, 60 * 60_000));
  if (r.code !== 0) {
    throw new ClawdflyError(`${engine.name} build of ${PROJECT_FILES.dockerfile} failed (exit ${r.code})`, {
      code: 'local-build',
      hint: 'fix the Dockerfile (the same one `clawdfly deploy` sends to Fly), or run on the host: --engine node',
      evidence: (r.stdout + r.stderr).split('\n').filter((l) => l.trim()).slice(-12),
    });
  }
  const built = await engine.run(['image', 'inspect', '--format', '{{.Id}}', tag], { timeoutMs: 300_000 });
  const id = built.stdout.trim();
  if (built.code !== 0 || !id) throw new ClawdflyError(`${engine.name} built ${tag} but cannot find it`, { code: 'local-build', hint: 'run with --verbose to see the engine calls' });
  return { tag, id, built: true, seconds: (Date.now() - started) / 1000, replaced: oldId && oldId !== id ? oldId : undefined };
}

/**
 * Removes the project's previous image (only ours, never shared ones). Called after the gateway
 * listens: on vfs an `rmi` takes a minute, which the user should not wait for. It fails harmlessly
 * while a kept container still uses that image.
 */
export async function removeReplacedImage(engine: ContainerEngine, id: string): Promise<void> {
  const r = await engine.run(['rmi', id], { timeoutMs: 10 * 60_000 });
  if (r.code !== 0) out.verbose(`could not remove the previous image ${id.slice(0, 12)}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
}

/** `--image REF`: an image built elsewhere (CI, another tag), used as it is. */
export async function useImage(engine: ContainerEngine, ref: string): Promise<ImageResult> {
  const r = await engine.run(['image', 'inspect', '--format', '{{.Id}}', ref], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new UsageError(`${engine.kind} has no image ${ref}`, `build it, or drop --image to build ${PROJECT_FILES.dockerfile}`, 'no-image');
  return { tag: ref, id: r.stdout.trim(), built: false, seconds: 0 };
}

/**
 * The folder engine commands run in: conmon (podman's container monitor) writes an empty `oom`
 * marker file into its working directory when the kernel OOM-kills the container on cgroup v1
 * (seen with runc + cgroupfs), and it inherits that directory from `podman start`/`run`. Not the
 * user's folder, then: clawdfly's own cache.
 */
async function engineWorkDir(): Promise<string> {
  const dir = join(clawdflyCacheDir(), 'engine');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Runs an engine command, showing its last line as progress (and every line with --verbose). */
async function streamed(engine: ContainerEngine, args: string[], onProgress: (text: string) => void, timeoutMs: number): Promise<Captured> {
  const argv = engine.argv(args);
  out.verbose(`$ ${engine.kind} ${argv.join(' ')}`);
  const env = await engine.env();
  return new Promise((resolve) => {
    const child = spawnProcess(engine.path, argv, { env, timeoutMs });
    let stdout = '';
    let stderr = '';
    const onData = (which: 'out' | 'err') => (d: Buffer) => {
      const text = d.toString('utf8');
      if (which === 'out') stdout += text;
      else stderr += text;
      for (const line of text.split('\n').map((l) => l.trimEnd()).filter(Boolean)) {
        out.verbose(`  ${line}`);
        if (/^(STEP \d+\/\d+|#\d+ \[|Step \d+\/\d+)/.test(line)) onProgress(line.slice(0, 100));
      }
    };
    child.stdout!.on('data', onData('out'));
    child.stderr!.on('data', onData('err'));
    child.on('error', (error) => resolve({ code: 127, stdout, stderr: stderr + error.message, timedOut: false }));
    child.on('close', (code, signal) => resolve({ code: code ?? 1, stdout, stderr, timedOut: signal === 'SIGKILL' }));
  });
}

/** Split fly.toml's [processes] command the way flyctl does (shell words, no expansion). */
export function splitCommand(command: string): string[] {
  try {
    return splitShellWords(command);
  } catch {
    throw new UsageError(`unterminated quote in the [processes] command: ${command}`, 'fix [processes] in fly.toml');
  }
}

/** Makes the state folder writable by the image's user (uid 1000), as Fly's volume is. */
export async function prepareVolume(engine: ContainerEngine, dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const uid = process.getuid?.();
  if (uid === 0) {
    await chownTree(dataDir, GATEWAY_UID);
  } else if (engine.kind === 'podman') {
    // Rootless podman: uid 1000 inside is a sub-uid outside; only podman's user namespace can chown to it.
    const r = await engine.run(['unshare', 'chown', '-R', '-h', `${GATEWAY_UID}:${GATEWAY_UID}`, '--', dataDir]); // -h (and -R's default -P): a link is changed itself, never followed
    if (r.code !== 0) out.warn(`could not hand ${dataDir} to the container's user (${r.stderr.trim().split('\n')[0]}); the gateway may not be able to save state`);
  } else if (uid !== GATEWAY_UID) {
    out.warn(`the container runs as uid ${GATEWAY_UID}; ${dataDir} belongs to uid ${uid}: if the gateway logs EACCES, run: sudo chown -R ${GATEWAY_UID}:${GATEWAY_UID} ${dataDir}`);
  }
}

/**
 * Hands local-data/ to the container's user. The container's user writes there, so a link in it may
 * point anywhere (at a root-owned file): lchown changes the link itself, and a link is never entered.
 * It runs before the container starts, so no process of that user can swap an entry during the walk.
 */
async function chownTree(path: string, id: number): Promise<void> {
  const st = await lstat(path);
  if (st.uid !== id || st.gid !== id) await lchown(path, id, id).catch(() => undefined);
  if (!st.isDirectory()) return;
  for (const e of await readdir(path)) await chownTree(join(path, e), id);
}

export interface ContainerRunOptions {
  image: string;
  /** The image's id (the tag may have moved since the container was made). */
  imageId: string;
  name: string;
  projectDir: string;
  env: Record<string, string>;
  command: string[];
  dataDir: string;
  stateDir: string;
  memoryMb?: number;
  hostPort: number;
  internalPort: number;
}

export interface StartedContainer {
  name: string;
  /** Whether the container of the last run was started again (its settings were unchanged). */
  reused: boolean;
  /** Removes the container this one replaced, if any (call it after the listening line). */
  removeReplaced(): Promise<void>;
  /** `<engine> logs -f <name>`: the gateway's log, ends when the container stops. */
  logs: ChildProcess;
  stop(force: boolean): Promise<void>;
  /** Exit code (and OOM flag) of the stopped container. */
  exitStatus(): Promise<{ code: number | null; oomKilled: boolean }>;
}

/** Label holding the keyed fingerprint of the settings a container was created with. */
export const SETTINGS_LABEL = 'clawdfly.settings';
const SETTINGS_KEY_FILE = 'local-settings.key';

/**
 * The random key (0600, in clawdfly's cache folder) that makes the settings fingerprint an HMAC:
 * the label is readable by anyone who can `inspect` the container, and a plain hash of the
 * environment would let them test guesses of a secret against it. Without the key it tells
 * nothing; losing the key only costs one container re-creation.
 */
async function settingsKey(): Promise<Buffer> {
  const file = join(clawdflyCacheDir(), SETTINGS_KEY_FILE);
  const existing = await readFile(file).catch(() => undefined);
  if (existing && existing.length >= 32) return existing;
  await mkdir(clawdflyCacheDir(), { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, randomBytes(32), { mode: 0o600, flag: 'wx' });
  } catch {
    /* another run wrote it first: use theirs */
  }
  return readFile(file);
}

/**
 * Everything a container is created with, as one HMAC: the image id, the engine's flags, the
 * command, the environment (secrets included), the volume, memory and ports. Equal fingerprints
 * mean `start` of the old container runs exactly what `create` would make.
 */
export async function settingsFingerprint(engine: ContainerEngine, o: ContainerRunOptions): Promise<string> {
  const settings = {
    v: 1,
    engine: engine.creationSettings,
    imageId: o.imageId,
    projectDir: o.projectDir,
    env: Object.entries(o.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    command: o.command,
    volume: [o.dataDir, o.stateDir],
    memoryMb: o.memoryMb ?? null,
    ports: [o.hostPort, o.internalPort],
  };
  return createHmac('sha256', await settingsKey()).update(JSON.stringify(settings)).digest('hex').slice(0, 32);
}

interface OldContainer {
  fingerprint: string;
}

/**
 * The container of the last run, if any. Refuses to touch a container of that name that
 * clawdfly did not create for this project, or one that is running.
 */
async function findOldContainer(engine: ContainerEngine, name: string, projectDir: string): Promise<OldContainer | undefined> {
  // The project folder label last: a path may hold spaces or bars.
  const format = `{{.State.Running}}|{{index .Config.Labels "${SETTINGS_LABEL}"}}|{{index .Config.Labels "${LOCAL_LABEL}"}}`;
  const r = await engine.run(['container', 'inspect', '--format', format, name], { timeoutMs: 300_000 });
  if (r.code !== 0) return undefined; // none
  const [running = '', fingerprint = '', ...labelParts] = r.stdout.trim().split('|');
  const label = labelParts.join('|');
  if (label !== projectDir) {
    throw new UsageError(`a container named ${name} exists and was not started by clawdfly for ${projectDir}`, `${engine.kind} rm -f ${name}  (if you no longer need it)`, 'container-conflict');
  }
  if (running === 'true') {
    throw new UsageError(`this project already runs locally (container ${name})`, `stop it with Ctrl-C in its terminal, or: ${engine.kind} stop ${name}`, 'already-running');
  }
  // A container from an older clawdfly has no fingerprint (`<no value>`): it never matches.
  return { fingerprint: /^[0-9a-f]{32}$/.test(fingerprint) ? fingerprint : '' };
}

/**
 * Starts the project's container. When the stopped container of the last run was made with the
 * same settings (fingerprint label), it is started again: on vfs storage `create` copies the
 * whole image (one to four minutes) and `rm` deletes it again, while `start` takes a second or
 * two. Any change (image, secrets, [env], command, port, memory) recreates it.
 */
export async function startContainer(engine: ContainerEngine, o: ContainerRunOptions): Promise<StartedContainer> {
  const fingerprint = await settingsFingerprint(engine, o);
  const old = await findOldContainer(engine, o.name, o.projectDir);
  // Log lines from before this start belong to earlier runs of a kept container.
  const since = new Date();
  let reused = false;
  if (old && old.fingerprint === fingerprint) {
    const restarted = await engine.run(['start', o.name], { timeoutMs: 10 * 60_000 });
    if (restarted.code === 0) reused = true;
    else out.verbose(`could not start the kept container again (${restarted.stderr.trim().split('\n')[0] ?? ''}); creating it anew`);
  } else if (old) {
    out.verbose(`the container ${o.name} was made with other settings (image, environment, secrets, command, port or memory): creating it anew`);
  }
  // The old container is renamed out of the way and removed once the gateway listens: on vfs an
  // `rm` takes a minute or more, which the user should not wait for. If it cannot be renamed, it goes now.
  let retired: string | undefined;
  if (old && !reused) {
    const candidate = `${o.name}-replaced-${Date.now().toString(36)}`;
    const renamed = await engine.run(['rename', o.name, candidate], { timeoutMs: 300_000 });
    if (renamed.code === 0) retired = candidate;
    else await engine.run(['rm', '-f', o.name], { timeoutMs: 10 * 60_000 });
  }
  if (!reused) {
    const createAndStart = async (): Promise<Captured> => {
      // Again on each attempt: a retry runs with the settings podman's error asked for.
      const fingerprint = await settingsFingerprint(engine, o);
      const created = await withEnvFile(o.env, async (envFile, byName) => {
        const args = [
          'create',
          '--name',
          o.name,
          '--label',
          `${LOCAL_LABEL}=${o.projectDir}`,
          '--label',
          `${SETTINGS_LABEL}=${fingerprint}`,
          '--env-file',
          envFile,
          ...Object.keys(byName).flatMap((k) => ['-e', k]),
          '-v',
          `${o.dataDir}:${o.stateDir}`,
          ...(o.memoryMb ? ['--memory', `${o.memoryMb}m`, '--memory-swap', `${o.memoryMb}m`] : []),
          // Loopback only: nothing on the network can reach the local machine.
          '-p',
          `127.0.0.1:${o.hostPort}:${o.internalPort}`,
          o.image,
          ...o.command,
        ];
        // The env-file exists only while the engine reads it at create time.
        return engine.run(args, { timeoutMs: 15 * 60_000, env: byName });
      });
      if (created.code !== 0) return created;
      const started = await engine.run(['start', o.name], { timeoutMs: 10 * 60_000 });
      if (started.code !== 0) await engine.run(['rm', '-f', o.name], { timeoutMs: 300_000 });
      return started;
    };
    const r = await engine.withFallback('starting the container', createAndStart);
    if (r.code !== 0) {
      throw new ClawdflyError(`${engine.kind} could not start the container`, {
        code: 'local-container',
        hint: 'run with --verbose to see the engine calls, or run on the host: --engine node',
        evidence: (r.stderr || r.stdout).split('\n').filter((l) => l.trim()).slice(-6),
      });
    }
  }
  out.verbose(reused ? `started the kept container ${o.name} again (same image and settings)` : `created ${o.name}`);
  const env = await engine.env();
  // A kept container's log holds its earlier runs too (with their listening lines): only this run's.
  const logs = spawnProcess(engine.path, engine.argv(['logs', '-f', ...(reused ? ['--since', since.toISOString()] : []), o.name]), { env, detached: true });
  const exitStatus = async (): Promise<{ code: number | null; oomKilled: boolean }> => {
    const w = await engine.run(['container', 'inspect', '--format', '{{.State.Running}} {{.State.ExitCode}} {{.State.OOMKilled}}', o.name], { timeoutMs: 300_000 });
    const [running, code, oom] = w.stdout.trim().split(' ');
    if (running === 'true') {
      // `logs -f` ended but the container still runs (engine hiccup): stop it before reporting.
      await engine.run(['stop', '-t', '10', o.name], { timeoutMs: 300_000 });
      return exitStatus();
    }
    return { code: code === undefined || code === '' ? null : Number(code), oomKilled: oom === 'true' };
  };
  return {
    name: o.name,
    reused,
    async removeReplaced() {
      if (!retired) return;
      const r = await engine.run(['rm', '-f', retired], { timeoutMs: 10 * 60_000 });
      if (r.code !== 0) out.verbose(`could not remove the replaced container ${retired}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
      retired = undefined;
    },
    logs,
    exitStatus,
    async stop(force) {
      // SIGTERM (Fly's kill_signal), SIGKILL after 10 s; force = SIGKILL now.
      if (force) await engine.run(['kill', o.name], { timeoutMs: 300_000 });
      else await engine.run(['stop', '-t', '10', o.name], { timeoutMs: 300_000 });
    },
  };
}
