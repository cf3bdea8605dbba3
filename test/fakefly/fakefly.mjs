#!/usr/bin/env node
// fakefly: a flyctl test double for clawdfly's tests. See README.md in this folder.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlyError, ExitSignal, printError, out, err } from './lib/output.mjs';
import { compileFlags, parseArgs } from './lib/args.mjs';
import { readState, stateDir, withState, appendJsonl, invocationsPath, sleepSync } from './lib/state.mjs';
import { getBackend } from './lib/backend-local.mjs';
import { runShim } from './lib/machine-shims.mjs';
import { applyScheduledExits } from './lib/core.mjs';
import * as C from './lib/commands.mjs';
import * as N from './lib/commands-network.mjs';

const G = ['access-token|t:s', 'verbose:b', 'debug:b', 'help|h:b'];
const APP = ['app|a:s', 'config|c:s'];
const VM = ['vm-size:s', 'vm-cpus,cpus:i', 'vm-cpu-kind,vm-cpukind:s', 'vm-memory,memory:s', 'vm-gpus:i', 'vm-gpu-kind,vm-gpukind:s', 'host-dedication-id:s'];

// command tree: leaf = { run, flags, canon }
const TREE = {
  version: { run: C.cmdVersion, flags: ['json|j:b', 'saveinstall|s:b'] },
  auth: { aliases: [], children: { whoami: { run: C.cmdWhoami, flags: ['json|j:b'] } } },
  apps: {
    aliases: ['app'],
    children: {
      create: { run: C.cmdAppsCreate, flags: ['org|o:s', 'json|j:b', 'name:s', 'generate-name:b', 'network:s', 'save:b', 'yes|y:b'] },
      list: { aliases: ['ls'], run: C.cmdAppsList, flags: ['org|o:s', 'json|j:b', 'quiet|q:b'] },
      destroy: { aliases: ['delete', 'remove', 'rm'], run: C.cmdAppsDestroy, flags: ['yes|y:b', 'app|a:s'] },
    },
  },
  status: { run: C.cmdStatus, flags: [...APP, 'json|j:b', 'all:b', 'watch:b', 'rate:i'] },
  volumes: {
    aliases: ['volume', 'vol', 'v'],
    children: {
      create: {
        run: C.cmdVolumesCreate,
        flags: [...APP, 'region|r:s', 'size|s:i', 'yes|y:b', 'json|j:b', 'count|n:i', ...VM, 'snapshot-retention:i', 'scheduled-snapshots:b', 'no-encryption:b', 'require-unique-zone:b', 'snapshot-id:s', 'image:s', 'fs-type:s', 'unique-zone-app-wide:b'],
      },
      list: { aliases: ['ls'], run: C.cmdVolumesList, flags: [...APP, 'json|j:b', 'all:b'] },
      snapshots: {
        aliases: ['snapshot', 'snaps'],
        children: {
          create: { run: C.cmdSnapshotsCreate, flags: ['app|a:s', 'json|j:b'] },
          list: { aliases: ['ls'], run: C.cmdSnapshotsList, flags: ['app|a:s', 'json|j:b'] },
        },
      },
    },
  },
  secrets: {
    aliases: ['secret'],
    children: {
      set: { run: C.cmdSecretsSet, flags: [...APP, 'stage:b', 'detach:b', 'dns-checks:b'] },
      import: { run: C.cmdSecretsImport, flags: [...APP, 'stage:b', 'detach:b', 'dns-checks:b'] },
      unset: { run: C.cmdSecretsUnset, flags: [...APP, 'stage:b', 'detach:b', 'dns-checks:b'] },
      list: { aliases: ['ls'], run: C.cmdSecretsList, flags: [...APP, 'json|j:b'] },
    },
  },
  deploy: {
    run: C.cmdDeploy,
    flags: [...APP, ...VM, 'ha:b', 'remote-only:b', 'local-only:b', 'detach:b', 'wait-timeout:s', 'yes|y:b', 'build-only:b', 'image|i:s', 'strategy:s',
      'dockerfile:s', 'build-arg:a', 'build-secret:a', 'build-target:s', 'primary-region:s', 'regions:s', 'env|e:a', 'volume-initial-size:i', 'no-cache:b',
      'smoke-checks:b', 'dns-checks:b', 'max-unavailable:s', 'deploy-retries:s', 'update-only:b', 'now:b', 'no-public-ips:b', 'flycast:b',
      'image-label:s', 'only-machines:s', 'exclude-machines:s', 'process-groups:s', 'label:a', 'depot:b', 'nixpacks:b', 'buildkit:b',
      'recreate-builder:b', 'push:b', 'release-command-timeout:s', 'lease-timeout:s', 'skip-release-command:b', 'file-local:a', 'file-literal:a', 'file-secret:a',
      'signal|s:s', 'no-extensions:b', 'attach:b', 'buildpacks-docker-host:s', 'buildpacks-volume:a', 'traces:b', 'local-only-arch:s'],
  },
  machine: {
    aliases: ['machines', 'm'],
    children: {
      list: { aliases: ['ls'], run: C.cmdMachineList, flags: [...APP, 'json|j:b', 'quiet|q:b'] },
      restart: { run: C.cmdMachineRestart, flags: [...APP, 'signal|s:s', 'time:i', 'force:b', 'skip-health-checks:b', 'select:b'] },
      start: { run: C.cmdMachineStart, flags: [...APP, 'select:b'] },
      stop: { run: C.cmdMachineStop, flags: [...APP, 'select:b', 'signal|s:s', 'timeout:s', 'wait-timeout|w:s'] },
      status: { run: C.cmdMachineStatus, flags: [...APP, 'display-config|d:b', 'select:b'] },
      update: {
        run: C.cmdMachineUpdate,
        flags: [...APP, ...VM, 'yes|y:b', 'command|C:s', 'env|e:a', 'metadata|m:a', 'image:s', 'dockerfile:s', 'skip-health-checks:b', 'skip-start:b',
          'wait-timeout:i', 'restart:s', 'mount-point:s', 'entrypoint:s', 'port|p:a', 'autostart:b', 'autostop:s', 'schedule:s', 'standby-for:a',
          'select:b', 'detach:b', 'file-local:a', 'file-literal:a', 'file-secret:a', 'kernel-arg:a', 'swap-size:s', 'rootfs-persist:s', 'rootfs-size:s', 'container:s'],
      },
    },
  },
  logs: { run: C.cmdLogs, flags: [...APP, 'region|r:s', 'json|j:b', 'machine|m,instance:s', 'select|s:b', 'no-tail|n:b'] },
  ssh: {
    children: {
      console: {
        run: C.cmdSshConsole,
        flags: [...APP, 'command|C:s', 'machine:s', 'quiet|q:b', 'pty:b', 'select|s:b', 'region|r:s', 'user|u:s', 'address|A:s', 'container:s', 'no-container:b', 'process-group|g:s'],
      },
    },
  },
  config: { children: { validate: { run: C.cmdConfigValidate, flags: [...APP, 'strict|s:b'] } } },
  platform: { children: { regions: { run: C.cmdPlatformRegions, flags: ['json|j:b'] }, 'vm-sizes': { run: C.cmdPlatformVmSizes, flags: ['json|j:b'] } } },
  ips: {
    aliases: ['ip'],
    children: {
      list: { aliases: ['ls'], run: N.cmdIpsList, flags: [...APP, 'json|j:b'] },
      'allocate-v4': { run: N.cmdIpsAllocateV4, flags: [...APP, 'shared:b', 'yes|y,auto-confirm:b', 'region|r:s'] },
      'allocate-v6': { run: N.cmdIpsAllocateV6, flags: [...APP, 'private:b', 'org|o:s', 'network:s', 'region|r:s'] },
      release: { run: N.cmdIpsRelease, flags: [...APP] },
      private: { run: N.cmdIpsPrivate, flags: [...APP, 'json|j:b'] },
    },
  },
  proxy: { run: N.cmdProxy, flags: [...APP, 'org|o:s', 'select|s:b', 'quiet|q:b', 'bind-addr|b:s', 'watch-stdin:b'] },
  tokens: {
    aliases: ['token'],
    children: {
      create: { children: { deploy: { run: N.cmdTokensCreateDeploy, flags: [...APP, 'json|j:b', 'name|n:s', 'expiry|x:s'] } } },
      list: { aliases: ['ls'], run: N.cmdTokensList, flags: [...APP, 'scope|s:s', 'org|o:s'] },
    },
  },
  storage: {
    aliases: ['tigris'],
    children: {
      create: { run: C.cmdStorageCreate, flags: [...APP, 'org|o:s', 'name|n:s', 'public|p:b', 'yes|y:b'] },
    },
  },
  orgs: { aliases: ['org'], children: { list: { aliases: ['ls'], run: C.cmdOrgsList, flags: ['json|j:b'] } } },
};

function findChild(children, tok) {
  for (const [name, node] of Object.entries(children)) if (name === tok || (node.aliases || []).includes(tok)) return [name, node];
  return null;
}

function resolve(argv) {
  let node = { children: TREE };
  const canon = [];
  let i = 0;
  while (node.children && i < argv.length && !argv[i].startsWith('-')) {
    const hit = findChild(node.children, argv[i]);
    if (!hit) {
      const parent = canon.length ? `flyctl ${canon.join(' ')}` : 'flyctl';
      throw Object.assign(new FlyError(`unknown command "${argv[i]}" for "${parent}"`), { usage: `Run '${parent} --help' for usage.` });
    }
    canon.push(hit[0]);
    node = hit[1];
    i++;
  }
  if (!node.run) {
    const parent = canon.length ? `flyctl ${canon.join(' ')}` : 'flyctl';
    throw Object.assign(new FlyError(`${parent} requires a subcommand`), { usage: `Run '${parent} --help' for usage.` });
  }
  return { node, canon: canon.join(' '), rest: argv.slice(i) };
}

// FAKEFLY_FAIL canonicalisation: accept any alias in the spec
function canonSpec(cmd) {
  const words = cmd.trim().split(/\s+/);
  let children = TREE;
  const out = [];
  for (const w of words) {
    const hit = children && findChild(children, w);
    if (!hit) { out.push(w); children = null; continue; }
    out.push(hit[0]);
    children = hit[1].children;
  }
  return out.join(' ');
}

const NETWORK_ERRORS = {
  'ssh console': 'error connecting to SSH server: connect tcp [fdaa:0:1:a7b::2]:22: operation timed out',
  logs: 'Get "https://api.fly.io/api/v1/apps/APP/logs?instance=&next_token=&region=": dial tcp: lookup api.fly.io: i/o timeout',
  deploy: 'failed to fetch an image or build from source: error connecting to Depot: Post "https://api.depot.dev/depot.build.v1.BuildService/CreateBuild": dial tcp: lookup api.depot.dev: i/o timeout',
};

function checkFailure(dir, canon, argv, env) {
  const n = withState(dir, (s) => {
    applyScheduledExits(s);
    s.calls[canon] = (s.calls[canon] || 0) + 1;
    return s.calls[canon];
  });
  const spec = env.FAKEFLY_FAIL;
  if (!spec) return null;
  for (const item of spec.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [cmd, ...mods] = item.split(':');
    if (canonSpec(cmd) !== canon) continue;
    const mod = mods.join(':');
    if (mod === '') return true;
    if (/^\d+$/.test(mod)) { if (Number(mod) === n) return true; continue; }
    if (mod.startsWith('match=')) { if (argv.join(' ').includes(mod.slice(6))) return true; continue; }
  }
  return null;
}

function networkError(canon, flags, env) {
  if (env.FAKEFLY_FAIL_MESSAGE) return env.FAKEFLY_FAIL_MESSAGE;
  const app = flags.app || env.FLY_APP || 'APP';
  if (NETWORK_ERRORS[canon]) return NETWORK_ERRORS[canon].replace('APP', app);
  if (canon.startsWith('machine') || canon === 'volumes create') return `Post "https://api.machines.dev/v1/apps/${app}/machines": dial tcp: lookup api.machines.dev: i/o timeout`;
  return 'Post "https://api.fly.io/graphql": dial tcp: lookup api.fly.io: i/o timeout';
}

// stdin bookkeeping: we never store the bytes, only whether any came and how many
function makeStdin() {
  const info = { read: false, bytes: 0 };
  return {
    info,
    count(n) { info.read = true; info.bytes += n; },
    async readAll() {
      info.read = true;
      const chunks = [];
      for await (const c of process.stdin) { chunks.push(c); info.bytes += c.length; }
      return Buffer.concat(chunks);
    },
    stream() { info.read = true; return process.stdin; },
  };
}

/**
 * The machine's fake process table as a /proc look-alike: `<pid>/stat` for each process of a
 * started machine, field 22 (start time) its `startTime` (clock ticks, default 1). The remote agent
 * reads liveness there (CLAWDFLY_TEST_PROC_ROOT) instead of the host's /proc. A fresh folder per
 * call (mkdtemp in the state dir, readable by the user the agent drops to), removed after it.
 */
function fakeProcTable(dir, machineId) {
  let root;
  try {
    root = fs.mkdtempSync(path.join(dir, 'proc-'));
  } catch {
    root = fs.mkdtempSync('/tmp/fakefly-proc-'); // a program already dropped to the gateway user (the off-site uploader's node)
  }
  fs.chmodSync(root, 0o755);
  let m;
  try {
    m = readState(dir).machines[machineId];
  } catch {
    m = undefined; // state.json is root's: a node already dropped to the gateway user sees an empty table
  }
  for (const p of m && m.api.state === 'started' ? m.fake.processes || [] : []) {
    if (!Number.isSafeInteger(p.pid) || p.pid <= 0) continue;
    fs.mkdirSync(path.join(root, String(p.pid)), { mode: 0o755 });
    const start = Number.isSafeInteger(p.startTime) && p.startTime > 0 ? p.startTime : 1;
    fs.writeFileSync(path.join(root, String(p.pid), 'stat'), `${p.pid} (${String(p.command || 'proc').split(' ')[0].split('/').pop().slice(0, 15)}) S ${Array(18).fill(0).join(' ')} ${start} 0 0\n`, { mode: 0o644 });
  }
  return root;
}

async function machineShim(argv) {
  const dir = stateDir();
  const r = runShim(dir, process.env.FAKEFLY_SHIM_APP, process.env.FAKEFLY_SHIM_MACHINE, argv);
  if (r.code === 127 && argv[0] === 'node') {
    // not the clawdbot entrypoint: run the real node (clawdfly's remote agent), its process-table
    // reads pointed at the machine's fake table
    const { spawnSync } = await import('node:child_process');
    const procRoot = fakeProcTable(dir, process.env.FAKEFLY_SHIM_MACHINE);
    try {
      const res = spawnSync(process.execPath, argv.slice(1), { stdio: 'inherit', env: { ...process.env, CLAWDFLY_TEST_PROC_ROOT: procRoot } });
      process.exitCode = res.status ?? 1;
    } finally {
      fs.rmSync(procRoot, { recursive: true, force: true });
    }
    process.exit();
  }
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  process.exit(r.code);
}

/**
 * One flyctl call: resolve, parse, inject failures, run, record the invocation. Returns the exit
 * code. `finish(code)` records and ends the call (the process: exits; in-process: returns).
 * stdin: makeStdin() of this process, or an in-process call's bytes (lib/in-process.mjs).
 */
export async function execute(argv, { env, cwd, stdin, pid = process.pid, onFinishHook }) {
  const started = Date.now();
  let dir;
  try {
    dir = stateDir(env);
  } catch (e) {
    err(`Error: ${e.message}\n`);
    return 1;
  }
  fs.mkdirSync(dir, { recursive: true });
  let recorded = false;
  let canon = '';
  const waitedMs = slowCall(argv, env) ? Number(env.FAKEFLY_LATENCY_MS) : 0;
  const record = (exitCode) => {
    if (recorded) return;
    recorded = true;
    const flyEnv = Object.keys(env).filter((k) => /^FLY_/.test(k)).sort();
    appendJsonl(invocationsPath(dir), {
      argv, command: canon, cwd, stdin: { read: stdin.info.read, hadData: stdin.info.bytes > 0, bytes: stdin.info.bytes },
      elapsedMs: Date.now() - started, waitedMs, exitCode, flyEnv, pid, ts: new Date(started).toISOString(),
    });
  };
  onFinishHook?.(record);

  if (waitedMs > 0) sleepSync(waitedMs);

  const finish = (code) => { record(code); return code; };
  try {
    const r = resolve(argv);
    canon = r.canon;
    const compiled = compileFlags([...G, ...(r.node.flags || [])]);
    const parsed = parseArgs(r.rest, compiled);
    if (checkFailure(dir, canon, argv, env)) throw new FlyError(networkError(canon, parsed.flags, env));
    const ctx = { dir, env, cwd, flags: parsed.flags, args: parsed.args, specified: parsed.specified, stdin, backend: getBackend(env) };
    // A backend with real processes (podman) learns here what happened since the last call (exits, logs).
    if (ctx.backend.sync && canon !== 'version') await ctx.backend.sync(ctx, canon);
    await r.node.run(ctx);
    return finish(0);
  } catch (e) {
    if (e instanceof ExitSignal) return finish(e.exitCode);
    if (e instanceof FlyError) {
      printError(e);
      if (e.usage) out(`${e.usage}\n`);
      return finish(e.exitCode ?? 1);
    }
    err(`Error: ${e && e.stack ? e.stack : e}\n`);
    return finish(3);
  }
}

/**
 * Does this call wait FAKEFLY_LATENCY_MS first? Every call, unless FAKEFLY_LATENCY_MATCH (a regular
 * expression tested against the argv joined by spaces) picks some, and none that starts once the
 * file FAKEFLY_LATENCY_UNTIL names exists: a test makes only the calls around the moment it
 * interrupts slow, and what the CLI does after the signal runs at full speed.
 */
function slowCall(argv, env) {
  if (!(Number(env.FAKEFLY_LATENCY_MS || 0) > 0)) return false;
  if (env.FAKEFLY_LATENCY_MATCH && !new RegExp(env.FAKEFLY_LATENCY_MATCH).test(argv.join(' '))) return false;
  return !(env.FAKEFLY_LATENCY_UNTIL && fs.existsSync(env.FAKEFLY_LATENCY_UNTIL));
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '__machine-shim') return machineShim(argv.slice(1));
  const stdin = makeStdin();
  let record = () => {};
  // a signal ends the call with 127, recorded like any other end
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => { record(127); process.exit(127); });
  const code = await execute(argv, { env: process.env, cwd: process.cwd(), stdin, onFinishHook: (r) => { record = r; } });
  process.exit(code);
}

// Run as a program (bin/flyctl); imported (lib/in-process.mjs), it only exports execute().
if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) main();
