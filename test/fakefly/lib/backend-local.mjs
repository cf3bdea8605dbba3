// The "local" machine runtime for fakefly: a machine is a directory tree
// ($FAKEFLY_STATE/machines/<id>/fs) plus a fake process table kept in state.json.
// Commands run over `ssh console -C` are executed on the host with absolute paths
// rewritten into the machine root (see README.md "ssh approach").
//
// Backend interface (what a podman backend must provide; selected by FAKEFLY_BACKEND):
//   name
//   createMachine(ctx, m)            prepare the machine runtime (m is the state record)
//   bootMachine(ctx, m, s)           machine (re)started: set m.fake.processes / listen (state mutation only)
//   stopMachine(ctx, m, s)           machine stopped
//   exec(ctx, m, argv, io) -> Promise<{ code, stdout: Buffer, stderr: Buffer }>
//   fsPath(ctx, machineId, absPath)  host path of a file inside the machine
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { machineRoot } from './state.mjs';
import { podmanBackend } from './backend-podman.mjs';

const FAKEFLY_MJS = fileURLToPath(new URL('../fakefly.mjs', import.meta.url));
const FAKEFLY_DIR = path.dirname(FAKEFLY_MJS);
/** The one module outside test/fakefly/ that the double imports (backend-podman.mjs). */
const SUPPORT_MODULES = [fileURLToPath(new URL('../../support/podman-engine.mjs', import.meta.url))];

/**
 * The double's own code, copied into its state dir, for the shims a machine script runs: a script
 * that `setpriv` dropped to the gateway user (uid 1000) re-enters the double through them, and that
 * user cannot read a checkout that sits under a 0700 folder (root's home, a `mktemp -d`). The state
 * dir is the one folder tests already make traversable for that user. Made once per state dir,
 * under a mkdtemp name renamed into place (concurrent calls: the first rename wins).
 */
function reachableScript(stateDir) {
  const target = path.join(stateDir, 'code');
  const script = path.join(target, 'fakefly', 'fakefly.mjs');
  if (fs.existsSync(script)) return script;
  const staging = fs.mkdtempSync(path.join(stateDir, 'code-'));
  try {
    fs.cpSync(FAKEFLY_DIR, path.join(staging, 'fakefly'), { recursive: true, filter: (src) => !/\.(test\.ts|md)$/.test(src) });
    fs.mkdirSync(path.join(staging, 'support'));
    for (const file of SUPPORT_MODULES) fs.copyFileSync(file, path.join(staging, 'support', path.basename(file)));
    // readable whatever the checkout's umask was
    for (const name of ['', ...fs.readdirSync(staging, { recursive: true, encoding: 'utf8' })]) {
      const p = path.join(staging, name);
      fs.chmodSync(p, fs.statSync(p).isDirectory() || p.includes(`${path.sep}bin${path.sep}`) ? 0o755 : 0o644);
    }
    fs.renameSync(staging, target);
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (!fs.existsSync(script)) throw error;
  }
  return script;
}

// top-level directories that stay host paths (tools live there); everything else maps into the machine
const HOST_DIRS = new Set(['bin', 'sbin', 'usr', 'lib', 'lib32', 'lib64', 'libx32', 'dev', 'proc', 'sys', 'run', 'nix']);
const PATH_RE = /(^|[\s'"=<>|;&(){}`,:])(\/(?!\/)[^\s'"<>|;&(){}`,:]*)/g;

export function rewritePaths(text, root) {
  return text.replace(PATH_RE, (m, pre, p) => {
    const first = p.split('/')[1] ?? '';
    if (HOST_DIRS.has(first)) return m;
    return pre + root + p;
  });
}

export function unrewrite(buf, root) {
  let s = buf.toString('latin1');
  s = s.split(root + '/').join('/').split(root).join('/');
  return Buffer.from(s, 'latin1');
}

function realRoot(dir, id) {
  const r = machineRoot(dir, id);
  fs.mkdirSync(r, { recursive: true });
  const real = fs.realpathSync(r);
  if (!/^[A-Za-z0-9_./+-]+$/.test(real)) throw new Error(`fakefly: machine root path has unsafe characters for path rewriting: ${real}`);
  return real;
}

function shimDir(dir) {
  const d = path.join(dir, 'shim');
  const mk = (name) => {
    const f = path.join(d, name);
    if (!fs.existsSync(f)) {
      fs.writeFileSync(f, `#!/bin/sh\nexec "$FAKEFLY_NODE" "$FAKEFLY_MJS" __machine-shim ${name} "$@"\n`, { mode: 0o755 });
    }
  };
  fs.mkdirSync(d, { recursive: true });
  mk('clawdbot');
  mk('node');
  mk('setpriv');
  return d;
}

/**
 * FAKEFLY_VOLUME_OWNER=uid:gid (the call's environment, also in-process): a new volume folder belongs to that user, as /data does on Fly
 * (the image's gateway user), while `ssh console` keeps running as root (hallpass does). Tests that
 * use it must make the state dir traversable for that user (setpriv'd scripts run inside it).
 */
function volumeOwner(env) {
  const v = env.FAKEFLY_VOLUME_OWNER;
  if (!v) return undefined;
  const [uid, gid] = v.split(':').map(Number);
  return Number.isInteger(uid) && Number.isInteger(gid ?? uid) ? { uid, gid: gid ?? uid } : undefined;
}

function makeMounts(root, m, env) {
  const owner = volumeOwner(env);
  for (const mt of m.api.config?.mounts || []) {
    if (!mt.path) continue;
    const p = path.join(root, mt.path);
    const fresh = !fs.existsSync(p);
    fs.mkdirSync(p, { recursive: true });
    if (fresh && owner) fs.chownSync(p, owner.uid, owner.gid);
  }
}

const SHELL_PRELUDE = 'kill() { "$FAKEFLY_NODE" "$FAKEFLY_MJS" __machine-shim kill "$@"; }\n';

/**
 * The prelude of a shell that `setpriv` started as another user: that user cannot take the
 * double's state lock, so `kill -0` answers from the fake process table as it was when setpriv
 * ran (FAKEFLY_ALIVE_PIDS); any other signal still goes to the kill shim.
 */
export const DROPPED_SHELL_PRELUDE = 'kill() { if [ "$1" = -0 ] && [ "$#" = 2 ]; then case " $FAKEFLY_ALIVE_PIDS " in *" $2 "*) return 0 ;; esac; echo "kill: ($2) - No such process" >&2; return 1; fi; "$FAKEFLY_NODE" "$FAKEFLY_MJS" __machine-shim kill "$@"; }\n';

export function gatewayListen(m) {
  const cmd = m.api.config?.init?.cmd || [];
  if (!cmd.some((a) => a === 'gateway')) return [];
  let port = Number(m.api.config?.env?.CLAWDBOT_GATEWAY_PORT) || 18789;
  let bind = 'loopback';
  for (let i = 0; i < cmd.length; i++) {
    if (cmd[i] === '--port') port = Number(cmd[i + 1]);
    else if (cmd[i].startsWith('--port=')) port = Number(cmd[i].slice(7));
    else if (cmd[i] === '--bind') bind = cmd[i + 1];
    else if (cmd[i].startsWith('--bind=')) bind = cmd[i].slice(7);
  }
  const addrs = bind === 'lan' || bind === 'auto' ? [`0.0.0.0:${port}`] : [`127.0.0.1:${port}`, `[::1]:${port}`];
  return [{ command: cmd.join(' '), addresses: addrs }];
}

/**
 * What the OpenClaw image's entrypoint does before the gateway's first start on a clawdbot volume
 * (templates/runtime/prepare-data.mjs, the row's firstStartMigrations; proven on the real image in
 * test/image/openclaw.test.ts): clawdbot's credential store `/data/agents/<id>/agent/auth-profiles.json`
 * is imported by `openclaw doctor --fix`, which renames it `*.migrated-<time>-<uuid>`.
 * Returns the machine paths it imported.
 */
function importCredentialStores(root, m) {
  if (m.api.image_ref?.labels?.['fakefly.gateway'] !== 'openclaw') return [];
  const agents = path.join(root, 'data', 'agents');
  if (!fs.existsSync(agents)) return [];
  const imported = [];
  for (const id of fs.readdirSync(agents)) {
    const store = path.join(agents, id, 'agent', 'auth-profiles.json');
    if (!fs.lstatSync(path.join(agents, id)).isDirectory() || !fs.existsSync(store) || !fs.lstatSync(store).isFile()) continue;
    const stamp = new Date().toISOString().replace(/:/g, '-');
    fs.renameSync(store, `${store}.migrated-${stamp}-${crypto.randomUUID()}`);
    imported.push(`/data/agents/${id}/agent/auth-profiles.json`);
  }
  return imported;
}

/**
 * The image's entrypoint step that a test put in the machine's /app (a project's rendered
 * runtime/prepare-data.mjs, copied there): run at every boot before the "gateway", as the volume's
 * owner, on the machine's /data (TMPDIR /data/tmp, as fly.toml sets it). A machine without it is an
 * image whose entrypoint the double does not model (the default). Returns its output lines.
 */
function runPrepareData(root, env) {
  const script = path.join(root, 'app', 'prepare-data.mjs');
  if (!fs.existsSync(script)) return [];
  const data = path.join(root, 'data');
  const owner = volumeOwner(env);
  const r = spawnSync(process.execPath, [script, '0'], {
    env: { PATH: process.env.PATH, CLAWDBOT_STATE_DIR: data, OPENCLAW_STATE_DIR: data, TMPDIR: path.join(data, 'tmp') },
    encoding: 'utf8',
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
  });
  return `${r.stdout || ''}${r.stderr || ''}`.split('\n').filter(Boolean);
}

export const localBackend = {
  name: 'local',

  createMachine(ctx, m) {
    const root = realRoot(ctx.dir, m.api.id);
    for (const d of ['tmp', 'app', 'root', 'etc', 'home/node', 'var/log']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/hostname'), m.api.id + '\n');
    makeMounts(root, m, ctx.env);
  },

  bootMachine(ctx, m, s) {
    const root = realRoot(ctx.dir, m.api.id);
    makeMounts(root, m, ctx.env);
    s.pidCounter = (s.pidCounter || 600) + 17;
    const cmd = m.api.config?.init?.cmd || [];
    m.fake.processes = [{ pid: s.pidCounter, command: cmd.join(' ') || '(image CMD)' }];
    m.fake.listen = m.fake.listenOverride ?? gatewayListen(m);
    m.fake.migrated = importCredentialStores(root, m);
    m.fake.prepareData = runPrepareData(root, ctx.env);
  },

  stopMachine(ctx, m) {
    m.fake.processes = [];
    m.fake.listen = [];
  },

  fsPath(ctx, machineId, absPath) {
    return path.join(machineRoot(ctx.dir, machineId), absPath);
  },

  /** argv: already split (hallpass-style). io: { stdin: Readable|null, env: {}, onStdinBytes(n) } */
  exec(ctx, m, argv, io) {
    const root = realRoot(ctx.dir, m.api.id);
    const shims = shimDir(ctx.dir);
    const env = {
      ...io.env,
      PATH: `${shims}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: `${root}/root`,
      TMPDIR: `${root}/tmp`,
      FAKEFLY_NODE: process.execPath,
      FAKEFLY_MJS: reachableScript(ctx.dir),
      FAKEFLY_STATE: ctx.dir,
      FAKEFLY_SHIM_APP: m.app,
      FAKEFLY_SHIM_MACHINE: m.api.id,
      FAKEFLY_SHIM_ROOT: root,
      // where the archive script looks for the image's entrypoint step (/app/prepare-data.mjs on a machine)
      CLAWDFLY_TEST_BOOT_APPLIER: path.join(root, 'app', 'prepare-data.mjs'),
    };
    let file;
    let args;
    const base = path.basename(argv[0] || '');
    if (['sh', 'bash', 'ash', 'dash'].includes(base)) {
      const ci = argv.indexOf('-c');
      if (ci < 0) return Promise.resolve({ code: 1, stdout: Buffer.alloc(0), stderr: Buffer.from('fakefly: interactive shells are not supported over ssh console; use sh -c \'...\'\n') });
      file = '/bin/sh';
      args = [...argv.slice(1, ci).filter((a) => a !== '-l'), '-c', SHELL_PRELUDE + rewritePaths(argv[ci + 1] ?? '', root), ...argv.slice(ci + 2).map((a) => rewritePaths(a, root))];
    } else {
      file = argv[0].startsWith('/') ? rewritePaths(argv[0], root) : argv[0];
      args = argv.slice(1).map((a) => rewritePaths(a, root));
    }
    return new Promise((resolve) => {
      const child = spawn(file, args, { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
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
      child.on('error', (e) => {
        resolve({ code: 127, stdout: Buffer.alloc(0), stderr: Buffer.from(`exec: "${argv[0]}": ${e.code === 'ENOENT' ? 'executable file not found in $PATH' : e.message}\n`) });
      });
      child.on('close', (code, signal) => {
        resolve({ code: code ?? (signal ? 128 + 15 : 1), stdout: unrewrite(Buffer.concat(so), root), stderr: unrewrite(Buffer.concat(se), root) });
      });
    });
  },
};

export function getBackend(env = process.env) {
  const name = env.FAKEFLY_BACKEND || 'local';
  if (name === 'local') return localBackend;
  if (name === 'podman') return podmanBackend; // real containers: lib/backend-podman.mjs
  throw new Error(`fakefly: backend '${name}' is not implemented (available: local, podman)`);
}
