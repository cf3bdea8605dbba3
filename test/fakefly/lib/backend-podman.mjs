// The "podman" machine runtime for fakefly (FAKEFLY_BACKEND=podman): a machine is a real container
// of the image `fly deploy` built from the project's Dockerfile, run the way a Fly machine runs.
//
//   fly deploy            podman build --pull=never (the test harness's cache tag and lock, same flags)
//   fly deploy --image R  R an earlier deploy built: that release's podman image again, no build
//   machine boot          podman run -d: fly.toml [env] + applied secrets (0600 env-file), init.cmd as
//                         the command (ENTRYPOINT kept), the volume folder at its mount path, --memory
//                         = guest.memory_mb, services[].internal_port on 127.0.0.1:<host port>
//   machine restart       container removed and created again: fresh rootfs, same volume (Fly semantics)
//   ssh console -C CMD    podman exec -i --user root <c> <argv> (hallpass runs commands as root; stdin piped)
//   logs                  the container's own output (podman logs --timestamps), as log entries
//   machine state/events  podman inspect: an exited container makes the machine `stopped` with an exit
//                         event (exit code, OOMKilled — or the kernel's oom-kill record on cgroup v1);
//                         [[restart]] policy "always" then restarts it, as flyd would
//
// State changes are discovered when fakefly runs (it is not a daemon): `sync()` runs at the start of
// every invocation. Plain ESM, Node built-ins only. Flags and env mirror test/support/podman.ts
// (CONTAINERS_CONF, --storage-driver vfs, --runtime runc, --cgroup-manager cgroupfs); never run broad
// clean-ups: the storage is shared, and only containers labelled with this state dir are removed.
//
// Knobs:
//   FAKEFLY_PODMAN_OWNER_PID   pid put on containers as clawdfly-test.owner-pid (the test process), so
//                              the harness's stale-container clean-up removes them if the test dies
//   FAKEFLY_PODMAN_HOST_PORT   loopback port to publish internal_port on (default: a free one per machine)
//   FAKEFLY_PODMAN_AUTORESTART `0`: a crashed machine stays stopped (whatever its restart policy)
//   CLAWDFLY_TEST_CACHE, CLAWDFLY_TEST_PODMAN_ROOT   as in test/support/podman.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { readState, withState, machineRoot, sleepSync } from './state.mjs';
import { appendLog, bootMachine, pushEvent } from './core.mjs';
import { gatewayListen } from './backend-local.mjs';
import { BASE_IMAGE, CACHE_REPO, ensureContainersConf, podmanBaseArgs, podmanWorkDir } from '../../support/podman-engine.mjs';

const CONTAINER_PREFIX = 'clawdfly-test-';
const OWNER_LABEL = 'clawdfly-test.owner-pid';
const STATE_LABEL = 'fakefly.state';

// ------------------------------------------------------------------ engine (same as the harness)

function cacheDir() {
  const d = process.env.CLAWDFLY_TEST_CACHE || path.join(os.homedir(), '.cache', 'clawdfly-test');
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function which(name) {
  for (const d of (process.env.PATH || '').split(path.delimiter).concat(['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin'])) {
    if (!d) continue;
    const p = path.join(d, name);
    try { if (fs.statSync(p).isFile()) return p; } catch { /* not here */ }
  }
  return undefined;
}

let engineCache;
function engine() {
  if (engineCache) return engineCache;
  if (process.env.CLAWDFLY_TEST_ENGINE === 'docker') throw new Error('fakefly: the podman backend drives podman only (CLAWDFLY_TEST_ENGINE=docker)');
  const podman = which('podman');
  if (!podman) throw new Error('fakefly: FAKEFLY_BACKEND=podman needs podman (apt-get install -y podman runc debootstrap; test/support/podman.ts installs them)');
  const conf = ensureContainersConf(cacheDir());
  engineCache = { podman, baseArgs: podmanBaseArgs(), env: { ...process.env, CONTAINERS_CONF: conf }, cwd: podmanWorkDir(cacheDir()) };
  return engineCache;
}

/** podman <baseArgs> ...args, synchronously. */
function pod(args, { input, timeoutMs = 10 * 60_000, env, stdio } = {}) {
  const e = engine();
  const r = spawnSync(e.podman, [...e.baseArgs, ...args], { env: env ?? e.env, cwd: e.cwd, input, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024, stdio });
  return { code: r.status ?? (r.signal ? 128 : 1), stdout: r.stdout ? r.stdout.toString('utf8') : '', stderr: r.stderr ? r.stderr.toString('utf8') : '', error: r.error };
}

function podOrThrow(args, opts) {
  const r = pod(args, opts);
  if (r.code !== 0) throw new Error(`fakefly: podman ${args.slice(0, 2).join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout || r.error?.message || '').trim().split('\n').slice(-8).join('\n')}`);
  return r;
}

const tail = (text, n = 40) => text.trimEnd().split('\n').slice(-n).join('\n');

// ------------------------------------------------------------------ build (the harness's cache)

/** .dockerignore as the builder reads it: patterns anchored at the context root, `!` re-includes, last match wins. */
function dockerignore(dir) {
  // the same reading as test/support/podman.ts dockerignoreMatcher (so both compute the same hash)
  let text = '';
  for (const name of ['.containerignore', '.dockerignore']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) { text = fs.readFileSync(p, 'utf8'); break; }
  }
  const rules = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => {
    const negate = l.startsWith('!');
    return { negate, pat: (negate ? l.slice(1).trim() : l).replace(/^\/+/, '').replace(/\/+$/, '').replace(/^\.\/(?=.)/, '') };
  }).filter((r) => r.pat).map(({ negate, pat }) => {
    const re = new RegExp(`^${pat.split('**').map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('.*')}(/.*)?$`);
    return { negate, re };
  });
  return (rel) => rules.reduce((ignored, r) => (r.re.test(rel) ? !r.negate : ignored), false);
}

/**
 * test/support/util.ts hashDir (relative paths, exec bits and contents, sorted), leaving out what
 * .dockerignore keeps from the builder: a project's .clawdfly/ (secrets, deploy state) changes on
 * every init and deploy without changing the image.
 */
function hashDir(dir) {
  const h = crypto.createHash('sha256');
  const ignored = dockerignore(dir);
  const walk = (rel) => {
    const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (ignored(r)) continue;
      const full = path.join(dir, r);
      if (e.isDirectory()) { h.update(`D ${r}\0`); walk(r); }
      else if (e.isSymbolicLink()) h.update(`L ${r}\0${fs.readlinkSync(full)}\0`);
      else if (e.isFile()) {
        h.update(`F ${r}\0${fs.statSync(full).mode & 0o111 ? 'x' : '-'}\0`);
        h.update(fs.readFileSync(full));
        h.update('\0');
      }
    }
  };
  walk('');
  return h.digest('hex');
}

const sha256 = (x) => crypto.createHash('sha256').update(x).digest('hex');

function pidAlive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

/** The harness's cross-process lock (cache/locks/<name>.lock holding the owner pid). */
function withCacheLock(name, fn, timeoutMs = 30 * 60_000) {
  const dir = path.join(cacheDir(), 'locks');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let owner = NaN;
      try { owner = Number(fs.readFileSync(file, 'utf8').trim()); } catch { continue; }
      if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) { try { fs.unlinkSync(file); } catch { /* raced */ } continue; }
      if (Date.now() > deadline) throw new Error(`fakefly: timed out waiting for lock ${file} (held by pid ${owner})`);
      sleepSync(500);
    }
  }
  try { return fn(); } finally { try { fs.unlinkSync(file); } catch { /* gone */ } }
}

function imageExists(ref) {
  return pod(['image', 'inspect', '--format', '{{.Id}}', ref], { timeoutMs: 120_000 }).code === 0;
}

/**
 * Builds the image `fly deploy` announced (image.image_ref.labels carry the Dockerfile, context and
 * build args) and records the local tag in labels['fakefly.podman_image']. Output goes to a log
 * file in the harness's cache; its tail is printed (and the deploy fails) when the build fails.
 */
function buildImage(ctx, image, out) {
  const labels = image.image_ref?.labels || {};
  if (labels['fakefly.prebuilt']) throw new Error('fakefly: the podman backend builds from a Dockerfile; an --image / [build] image it did not build is not supported');
  // `deploy --image <ref>` of an image an earlier deploy pushed (a rollback): flyctl skips the build
  // and runs that image as it was (flyctl-day2.md §5.3). Never rebuilt from the context, which may
  // hold other files by now.
  const earlier = labels['fakefly.podman_image'];
  if (earlier) {
    if (!imageExists(earlier)) throw new Error(`fakefly: the podman image ${earlier} of ${image.ref ?? 'this release'} is no longer in podman storage`);
    out(`--> podman image ${earlier} (the release's own image, not rebuilt)\n`);
    return;
  }
  const context = labels['fakefly.context'];
  const dockerfile = labels['fakefly.dockerfile'];
  const buildArgs = Object.entries(JSON.parse(labels['fakefly.build_args'] || '{}')).sort(([a], [b]) => (a < b ? -1 : 1));
  const hash = sha256([hashDir(context), sha256(fs.readFileSync(dockerfile)), JSON.stringify(buildArgs)].join('\n'));
  const cacheTag = `${CACHE_REPO}:${hash.slice(0, 32)}`;
  const logDir = path.join(cacheDir(), 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `build-fakefly-${hash.slice(0, 12)}.log`);
  const started = Date.now();
  const cached = withCacheLock(`build-${hash.slice(0, 16)}`, () => {
    if (imageExists(cacheTag)) return true;
    if (!imageExists(BASE_IMAGE)) {
      throw new Error(`fakefly: ${BASE_IMAGE} is not in podman storage; build the stand-in first (test/support/podman.ts ensureBaseImage())`);
    }
    fs.writeFileSync(logFile, `build ${cacheTag} from ${context} (${hash}) for fakefly\n`);
    const fd = fs.openSync(logFile, 'a');
    let r;
    try {
      // No --label (unlike the harness): a label is one more layer, and with vfs committing it copies
      // the whole rootfs (minutes). Without it an unchanged Dockerfile is all podman layer-cache hits.
      r = pod([
        'build', '--pull=never', '--network', 'host',
        ...buildArgs.flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
        '-t', cacheTag, '-f', dockerfile, context,
      ], { timeoutMs: 30 * 60_000, stdio: ['ignore', fd, fd] });
    } finally { fs.closeSync(fd); }
    if (r.code !== 0) throw new Error(`fakefly: podman build failed (exit ${r.code}); full log: ${logFile}\n${tail(fs.readFileSync(logFile, 'utf8'), 40)}`);
    return false;
  });
  labels['fakefly.podman_image'] = cacheTag;
  image.image_ref.labels = labels;
  out(`--> podman image ${cacheTag} (${cached ? 'cached' : `built in ${Math.round((Date.now() - started) / 1000)} s; log ${logFile}`})\n`);
}

// ------------------------------------------------------------------ containers

function containerName(ctx, id) {
  return `${CONTAINER_PREFIX}ff-${sha256(ctx.dir).slice(0, 8)}-${id}`;
}

function freePort() {
  const r = spawnSync(process.execPath, ['-e', "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})"]);
  const port = Number(r.stdout?.toString());
  if (!port) throw new Error('fakefly: could not find a free loopback port');
  return port;
}

function volumeDir(ctx, m, mountPath) {
  return path.join(machineRoot(ctx.dir, m.api.id), mountPath);
}

/** Appends the container's log lines that are not in the app's buffer yet. */
function flushLogs(ctx, s, m) {
  const p = m.fake.podman;
  if (!p?.container || !p.containerId) return;
  const lines = containerLogLines(p.container);
  if (!lines) return;
  appendNewLines(s, m, p.containerId, lines);
}

function containerLogLines(name) {
  // one fd for both streams keeps stdout/stderr lines in order (as the harness does)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fakefly-logs-'));
  const file = path.join(tmp, 'log');
  const fd = fs.openSync(file, 'w');
  try {
    const r = pod(['logs', '--timestamps', name], { timeoutMs: 120_000, stdio: ['ignore', fd, fd] });
    if (r.code !== 0) return undefined;
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  } finally {
    fs.closeSync(fd);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function appendNewLines(s, m, containerId, lines) {
  const p = m.fake.podman;
  if (p.containerId !== containerId) return;
  const app = s.apps[m.app];
  if (!app) return;
  for (let i = p.logCount || 0; i < lines.length; i++) {
    const raw = lines[i];
    const sp = raw.indexOf(' ');
    const t = Date.parse(sp > 0 ? raw.slice(0, sp).replace(/(\.\d{3})\d*/, '$1') : '');
    const message = sp > 0 && !Number.isNaN(t) ? raw.slice(sp + 1) : raw;
    appendLog(s, app, { message, instance: m.api.id, region: m.api.region, provider: 'app', timestamp: Number.isNaN(t) ? undefined : new Date(t).toISOString() });
  }
  p.logCount = Math.max(p.logCount || 0, lines.length);
}

function inspectContainers(names) {
  const r = pod(['inspect', '--type', 'container', '--format', 'json', ...names], { timeoutMs: 120_000 });
  let list = [];
  try { list = JSON.parse(r.stdout || '[]'); } catch { list = []; }
  if (r.code !== 0 && list.length === 0 && names.length > 1) return names.flatMap((n) => inspectContainers([n]));
  return list;
}

/** podman 4.3 + runc on cgroup v1 leaves OOMKilled false: the kernel's oom-kill record names the cgroup. */
function kernelSawOomKill(id) {
  const r = spawnSync('dmesg', [], { timeout: 30_000 });
  return r.status === 0 && r.stdout.toString().split('\n').some((l) => l.includes('oom-kill:') && l.includes(id));
}

function runContainer(ctx, m) {
  const p = (m.fake.podman ||= {});
  const image = m.api.image_ref?.labels?.['fakefly.podman_image'];
  if (!image) throw new Error(`fakefly: machine ${m.api.id} has no podman image (deploy it with FAKEFLY_BACKEND=podman)`);
  const conf = m.api.config || {};
  const name = containerName(ctx, m.api.id);
  pod(['rm', '-f', '-t', '0', name], { timeoutMs: 120_000 }); // only ever this machine's own container
  p.container = name;
  p.hostPort ||= Number(ctx.env.FAKEFLY_PODMAN_HOST_PORT) || freePort();
  const internalPort = (conf.services || []).find((x) => x.internal_port)?.internal_port;
  const env = {
    ...(conf.env || {}),
    ...(m.fake.appliedSecrets || {}),
    FLY_APP_NAME: m.app, FLY_MACHINE_ID: m.api.id, FLY_ALLOC_ID: m.api.id, FLY_REGION: m.api.region,
    FLY_PRIVATE_IP: m.api.private_ip, FLY_IMAGE_REF: conf.image || '', FLY_MACHINE_VERSION: m.api.instance_id,
  };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fakefly-envfile-'));
  const envFile = path.join(tmp, 'env');
  const procEnv = { ...engine().env };
  const byName = [];
  const lines = [];
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) continue;
    if (/[\r\n]/.test(String(v))) { procEnv[k] = String(v); byName.push('-e', k); } else lines.push(`${k}=${v}`);
  }
  fs.writeFileSync(envFile, lines.join('\n') + '\n', { mode: 0o600 });
  const volumes = [];
  for (const mt of conf.mounts || []) {
    if (!mt.path) continue;
    const dir = volumeDir(ctx, m, mt.path);
    const fresh = !fs.existsSync(dir);
    fs.mkdirSync(dir, { recursive: true });
    // Fly mounts a new volume owned by the image's user; only its root, never recursively.
    if (fresh && process.getuid?.() === 0) fs.chownSync(dir, 1000, 1000);
    volumes.push('-v', `${fs.realpathSync(dir)}:${mt.path}`);
  }
  const memory = conf.guest?.memory_mb;
  const owner = ctx.env.FAKEFLY_PODMAN_OWNER_PID;
  const args = [
    'run', '-d', '--name', name, '--hostname', m.api.id,
    ...(owner ? ['--label', `${OWNER_LABEL}=${owner}`] : []),
    '--label', `${STATE_LABEL}=${ctx.dir}`, '--label', `fakefly.machine=${m.api.id}`,
    '--env-file', envFile, ...byName,
    ...volumes,
    ...(memory ? ['--memory', `${memory}m`, '--memory-swap', `${memory}m`] : []),
    ...(internalPort ? ['-p', `127.0.0.1:${p.hostPort}:${internalPort}`] : []),
    image,
    ...(conf.init?.cmd || []),
  ];
  try {
    const r = podOrThrow(args, { env: procEnv, timeoutMs: 5 * 60_000 });
    p.containerId = r.stdout.trim().split('\n').pop();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  p.logCount = 0;
  p.exitSeen = false;
}

function stopContainer(ctx, m, s) {
  const p = m.fake.podman;
  if (!p?.container) return;
  flushLogs(ctx, s, m);
  const timeout = Number(String(m.api.config?.stop_config?.timeout || '10').replace(/s$/, '')) || 10;
  const signal = m.api.config?.stop_config?.signal || 'SIGTERM';
  // Fly sends kill_signal, then SIGKILL after kill_timeout
  pod(['kill', '-s', signal.replace(/^SIG/, ''), p.container], { timeoutMs: 60_000 });
  const deadline = Date.now() + timeout * 1000;
  for (;;) {
    const st = inspectContainers([p.container])[0]?.State;
    if (!st || !st.Running) break;
    if (Date.now() > deadline) { pod(['kill', '-s', 'KILL', p.container], { timeoutMs: 60_000 }); break; }
    sleepSync(200);
  }
  flushLogs(ctx, s, m);
  p.exitSeen = true;
}

/** Commands that read or change machines (the others never wait for podman). */
const SYNCED = new Set(['status', 'deploy', 'logs', 'ssh console', 'secrets set', 'secrets import', 'secrets unset',
  'machine list', 'machine restart', 'machine start', 'machine stop', 'machine status', 'machine update']);

export const podmanBackend = {
  name: 'podman',
  /** ssh console runs every command in the container (no clawdbot / kill stand-ins). */
  realProcesses: true,

  buildImage,

  createMachine(ctx, m) {
    fs.mkdirSync(machineRoot(ctx.dir, m.api.id), { recursive: true });
    m.fake.podman = {};
  },

  bootMachine(ctx, m, s) {
    if (m.fake.podman?.container && m.fake.podman.containerId && !m.fake.podman.exitSeen) stopContainer(ctx, m, s);
    runContainer(ctx, m);
    m.fake.processes = [{ pid: 1, command: (m.api.config?.init?.cmd || []).join(' ') || '(image CMD)' }];
    m.fake.listen = m.fake.listenOverride ?? gatewayListen(m);
  },

  stopMachine(ctx, m, s) {
    stopContainer(ctx, m, s);
    m.fake.processes = [];
    m.fake.listen = [];
  },

  /** Host path of a file inside the machine: only the volume is on the host. */
  fsPath(ctx, machineId, absPath) {
    return path.join(machineRoot(ctx.dir, machineId), absPath);
  },

  exec(ctx, m, argv, io) {
    const e = engine();
    const user = ctx.flags.user || 'root';
    return new Promise((resolve) => {
      const child = spawn(e.podman, [...e.baseArgs, 'exec', '-i', '--user', user, m.fake.podman.container, ...argv], { env: e.env, cwd: e.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
      const so = [];
      const se = [];
      child.stdout.on('data', (c) => so.push(c));
      child.stderr.on('data', (c) => se.push(c));
      child.stdin.on('error', () => {});
      if (io.stdin) {
        io.stdin.on('data', (c) => { io.onStdinBytes?.(c.length); child.stdin.write(c); });
        io.stdin.on('end', () => child.stdin.end());
        io.stdin.on('error', () => child.stdin.end());
      } else child.stdin.end();
      child.on('error', (err) => resolve({ code: 127, stdout: Buffer.alloc(0), stderr: Buffer.from(`${err.message}\n`) }));
      child.on('close', (code, signal) => {
        let stderr = Buffer.concat(se);
        // podman's own "executable file not found" → hallpass's wording
        const text = stderr.toString('utf8');
        if (code === 127 && /executable file `.*` not found/.test(text)) stderr = Buffer.from(`exec: "${argv[0]}": executable file not found in $PATH\n`);
        resolve({ code: code ?? (signal ? 128 + 15 : 1), stdout: Buffer.concat(so), stderr });
      });
    });
  },

  /**
   * Brings state.json up to date with the containers: an exited container makes its machine stopped
   * (exit event from podman inspect); policy "always" restarts it; `logs` also pulls new log lines.
   */
  sync(ctx, canon) {
    if (!SYNCED.has(canon)) return;
    const s0 = readState(ctx.dir);
    const live = Object.values(s0.machines).filter((m) => m.fake?.podman?.container && m.api.state === 'started' && !m.fake.podman.exitSeen);
    const wantLogs = canon === 'logs';
    if (!live.length && !wantLogs) return;
    const inspected = live.length ? inspectContainers(live.map((m) => m.fake.podman.container)) : [];
    const byId = new Map(inspected.map((c) => [c.Id, c]));
    const logs = new Map();
    if (wantLogs) {
      for (const m of Object.values(s0.machines)) {
        const p = m.fake?.podman;
        if (!p?.container || !p.containerId) continue;
        const lines = containerLogLines(p.container);
        if (lines) logs.set(p.containerId, lines);
      }
    }
    withState(ctx.dir, (s) => {
      for (const m of Object.values(s.machines)) {
        const p = m.fake?.podman;
        if (!p?.containerId) continue;
        if (logs.has(p.containerId)) appendNewLines(s, m, p.containerId, logs.get(p.containerId));
        const c = byId.get(p.containerId);
        if (!c || c.State?.Running || m.api.state !== 'started' || p.exitSeen) continue;
        // the container exited on its own: Fly records an exit event and applies the restart policy
        flushLogs(ctx, s, m);
        p.exitSeen = true;
        const code = Number(c.State.ExitCode ?? 0);
        const oom = Boolean(c.State.OOMKilled) || (code === 137 && kernelSawOomKill(c.Id));
        const policy = m.api.config?.restart?.policy;
        const restart = (policy === 'always' || (policy !== 'no' && code !== 0)) && ctx.env.FAKEFLY_PODMAN_AUTORESTART !== '0';
        const finished = Date.parse(c.State.FinishedAt || '') || Date.now();
        pushEvent(m, {
          type: 'exit', status: 'stopped', source: 'flyd', timestamp: finished,
          request: { exit_event: { exit_code: code, guest_exit_code: code, guest_signal: code > 128 ? code - 128 : -1, oom_killed: oom, requested_stop: false, restarting: restart, signal: -1, exited_at: new Date(finished).toISOString() }, restart_count: m.fake.crashRestarts || 0 },
        });
        m.api.state = 'stopped';
        m.fake.processes = [];
        m.fake.listen = [];
        if (restart) {
          m.fake.crashRestarts = (m.fake.crashRestarts || 0) + 1;
          m.fake.restarts = (m.fake.restarts || 0) + 1;
          (s.restartLog ||= []).push({ app: m.app, machine: m.api.id, reason: 'policy', ts: new Date().toISOString() });
          bootMachine(ctx, s, m);
        }
      }
    });
  },
};

/** Host port the machine's internal_port is published on (127.0.0.1), or undefined. */
export function podmanHostPort(dir, machineId) {
  return readState(dir).machines[machineId]?.fake?.podman?.hostPort;
}

/** Name of the machine's current container. */
export function podmanContainer(dir, machineId) {
  return readState(dir).machines[machineId]?.fake?.podman?.container;
}

/** Runs podman with the backend's flags (for tests: kill, inspect, logs of their own containers). */
export function podmanRun(args, opts = {}) {
  return pod(args, opts);
}

/** Removes every container this state dir created (and nothing else). */
/**
 * removePodmanContainers in a child process, for test hooks: on vfs a `podman rm` can take over a
 * minute, and a test worker blocked that long misses vitest's 60 s RPC deadline ("Timeout calling
 * onTaskUpdate"), which fails the run although every test passed.
 */
export function removePodmanContainersAsync(dir) {
  const script = `import { removePodmanContainers } from ${JSON.stringify(import.meta.url)}; removePodmanContainers(${JSON.stringify(dir)});`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore', env: process.env });
    child.on('error', () => resolve(1));
    child.on('close', (code) => resolve(code ?? 1));
  });
}

export function removePodmanContainers(dir) {
  const r = pod(['ps', '-a', '--filter', `label=${STATE_LABEL}=${dir}`, '--format', '{{.Names}}'], { timeoutMs: 120_000 });
  const names = r.stdout.split('\n').map((x) => x.trim()).filter((x) => x.startsWith(CONTAINER_PREFIX));
  if (names.length) pod(['rm', '-f', '-t', '0', ...names], { timeoutMs: 5 * 60_000 });
  return names;
}
