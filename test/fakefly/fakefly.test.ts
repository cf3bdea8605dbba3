// Contract tests for the fakefly flyctl double (test/fakefly). They run the double the way
// clawdfly does: flyctl on PATH with pipes for ssh, logs, proxy and the tests that name the binary,
// its execute() in this process for the other calls (as the in-process tier does); never project code.
import { describe, it, expect } from 'vitest';
import { spawnSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// @ts-ignore -- plain ESM helper without type declarations
import { createFakeFly } from './control.mjs';
// @ts-ignore -- plain ESM helper without type declarations
import { runFakeflyInProcess, runsInProcess } from './lib/in-process.mjs';

type Run = { code: number | null; stdout: string; stderr: string };

// tests run concurrently, each with its own state dir
const test = (name: string, fn: (t: T) => Promise<unknown>) => it(name, async (ctx) => fn(setup(ctx.onTestFinished)), 60000);

const FLY_TOML = `app = "claw-test"
primary_region = "iad"

[build]
  dockerfile = "Dockerfile"

[env]
  NODE_ENV = "production"
  CLAWDBOT_STATE_DIR = "/data"

[processes]
  app = "node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan"

[http_service]
  internal_port = 3000
  force_https = true
  auto_stop_machines = false
  auto_start_machines = true
  min_machines_running = 1
  processes = ["app"]

[[vm]]
  size = "shared-cpu-2x"
  memory = "2048mb"

[mounts]
  source = "clawdbot_data"
  destination = "/data"
`;

type T = ReturnType<typeof setup>;

function setup(onTestFinished: (fn: () => void) => void) {
  const fake = createFakeFly();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fakefly-work-'));
  onTestFinished(() => {
    fake.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  });
  const fly = (args: string[], opts: { input?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> => {
    const env = { ...fake.env, ...(opts.env ?? {}) };
    // A call that needs no process (not ssh, logs or proxy) runs the double's execute() in this
    // process, as the CLI's in-process tier does (lib/in-process.mjs): the same code as bin/flyctl
    // without a process start. Latency (a blocking sleep) would stall the concurrent tests: a process.
    if (runsInProcess(args, env) && !env['FAKEFLY_LATENCY_MS']) {
      return runFakeflyInProcess(args, { env, cwd: opts.cwd ?? work, input: opts.input ?? '' }).then((r: { exitCode: number; stdout: string; stderr: string }) => ({ code: r.exitCode, stdout: r.stdout, stderr: r.stderr }));
    }
    return new Promise((resolve, reject) => {
      const child = spawn('flyctl', args, { cwd: opts.cwd ?? work, env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(opts.input ?? '');
    });
  };
  const json = (r: Run): any => {
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };
  const writeProject = (toml = FLY_TOML, dockerfile = 'FROM node:22-bookworm\n') => {
    fs.writeFileSync(path.join(work, 'fly.toml'), toml);
    fs.writeFileSync(path.join(work, 'Dockerfile'), dockerfile);
  };
  const deployedApp = async (): Promise<string> => {
    writeProject();
    fake.addApp('claw-test');
    const d = await fly(['deploy', '--ha=false', '-y']);
    expect(d.code, d.stderr).toBe(0);
    const ms = fake.machines('claw-test');
    expect(ms).toHaveLength(1);
    return ms[0].id;
  };
  return { fake, work, fly, json, writeProject, deployedApp };
}

describe.concurrent('basics', () => {
  test('requires FAKEFLY_STATE', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    const env = { ...fake.env };
    delete (env as any).FAKEFLY_STATE;
    const r = spawnSync('flyctl', ['version'], { env, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('FAKEFLY_STATE');
  });

  test('version --json is compact; FAKEFLY_VERSION overrides', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    const r = await fly(['version', '--json'], { env: { FAKEFLY_VERSION: '0.4.90' } });
    expect(r.stdout).toMatch(/^\{"Name":"flyctl","Version":"0.4.90",/);
    expect(r.stdout.endsWith('}\n')).toBe(true);
    expect(spawnSync('fly', ['version'], { env: fake.env, encoding: 'utf8' }).stdout).toMatch(/^flyctl v0\.4\.87 /);
  });

  test('auth whoami and auth failures', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    expect((await fly(['auth', 'whoami', '--json'])).stdout).toBe('{\n    "email": "tester@example.com"\n}\n');
    const none = await fly(['auth', 'whoami'], { env: { FAKEFLY_AUTH: 'none' } });
    expect(none.code).toBe(1);
    expect(none.stderr).toBe("Error: no access token available. Please login with 'flyctl auth login'\n");
    fake.setAuth('expired');
    expect((await fly(['auth', 'whoami'])).stderr).toContain('failed retrieving current user: You must be authenticated to view this.');
    expect((await fly(['apps', 'list', '--json'])).stderr).toContain('You must be authenticated to view this.');
  });

  test('unknown flags and commands', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    const r = await fly(['deploy', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: unknown flag: --json\n');
    expect((await fly(['machine', 'restart', 'x', '-j'])).stderr).toContain("unknown shorthand flag: 'j' in -j");
    const u = await fly(['frobnicate']);
    expect(u.stderr).toContain('unknown command "frobnicate" for "flyctl"');
    expect(u.stdout).toContain("Run 'flyctl --help' for usage.");
  });

  test('missing app name', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    const r = await fly(['status', '--json'], { env: { FLY_APP: '' } });
    expect(r.stderr).toContain('the config for your app is missing an app name');
    expect((await fly(['status', '--json'], { env: { FLY_APP: 'ghost' } })).stderr).toContain('Could not find App "ghost"');
  });
});

describe.concurrent('apps', () => {
  test('create / taken / invalid / list', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    const c = await fly(['apps', 'create', 'my-app', '--json']);
    const app = JSON.parse(c.stdout);
    expect(app.Name).toBe('my-app');
    expect(app.Organization.Slug).toBe('personal');
    expect(c.stderr).toContain('automatically selected personal organization');
    const again = await fly(['apps', 'create', 'my-app', '-o', 'personal']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('Validation failed: Name has already been taken');
    const taken = await fly(['apps', 'create', 'elsewhere', '-o', 'personal'], { env: { FAKEFLY_TAKEN_NAMES: 'x,elsewhere' } });
    expect(taken.stderr).toContain('Name has already been taken');
    expect((await fly(['apps', 'create', 'Bad_Name', '-o', 'personal'])).stderr).toContain('Name under 63 chars using numbers, lowercase letters and dashes');
    const list = json((await fly(['apps', 'list', '--json'])));
    expect(list.map((a: any) => a.Name)).toEqual(['my-app']);
    const st = json((await fly(['status', '-a', 'my-app', '--json'])));
    expect(Object.keys(st)).toEqual([...Object.keys(st)].sort());
    expect(st).toMatchObject({ Name: 'my-app', Deployed: false, Status: 'pending', Machines: [] });
  });
});

describe.concurrent('volumes', () => {
  test('needs -y unless the name exists; duplicates allowed; region and name rules', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    fake.addApp('vol-app');
    const noYes = await fly(['volumes', 'create', 'data', '-a', 'vol-app', '-r', 'iad']);
    expect(noYes.code).toBe(1);
    expect(noYes.stderr).toContain('yes flag must be specified when not running interactively');
    expect((await fly(['vol', 'create', 'data', '-a', 'vol-app', '-r', 'zzz', '-y'])).stderr).toContain('region zzz not found');
    expect((await fly(['volumes', 'create', 'data', '-a', 'vol-app', '-y'])).stderr).toContain('region code must be specified when not running interactively');
    const v1 = json((await fly(['volumes', 'create', 'data', '-a', 'vol-app', '-r', 'iad', '-s', '3', '-y', '--json'])));
    expect(v1).toMatchObject({ name: 'data', region: 'iad', size_gb: 3, encrypted: true, attached_machine_id: null });
    expect(v1.id).toMatch(/^vol_[a-z0-9]{16}$/);
    // second with same name: no prompt needed
    expect((await fly(['volume', 'create', 'data', '-a', 'vol-app', '-r', 'lhr'])).code).toBe(0);
    expect((await fly(['v', 'create', 'Bad-Name', '-a', 'vol-app', '-r', 'iad', '-y'])).code).toBe(1);
    const list = json((await fly(['volumes', 'ls', '-a', 'vol-app', '--json'])));
    expect(list.map((v: any) => v.region)).toEqual(['iad', 'lhr']);
  });
});

describe.concurrent('volume snapshots', () => {
  test('create prints only the Scheduled line (no id, even with --json); list is oldest first, pending once, then created', async ({ fake, fly, json }) => {
    fake.addApp('snap-app');
    const vol = json(await fly(['volumes', 'create', 'data', '-a', 'snap-app', '-r', 'iad', '-y', '--json']));
    const empty = await fly(['volumes', 'snapshots', 'list', vol.id, '-a', 'snap-app']);
    expect(empty.stderr).toContain(`No snapshots available for volume ${vol.id}`);
    expect(json(await fly(['volumes', 'snapshots', 'list', vol.id, '-a', 'snap-app', '--json']))).toEqual([]);
    const created = await fly(['volumes', 'snapshots', 'create', vol.id, '-a', 'snap-app', '--json']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toBe(`Scheduled to snapshot volume ${vol.id}\n`);
    const pending = json(await fly(['vol', 'snaps', 'ls', vol.id, '-a', 'snap-app', '--json']));
    expect(pending).toMatchObject([{ id: '', status: 'running', retention_days: 5 }]);
    const done = json(await fly(['volumes', 'snapshot', 'list', vol.id, '-a', 'snap-app', '--json']));
    expect(done[0].id).toMatch(/^vs_[0-9a-f]{16}$/);
    expect(done[0].status).toBe('created');
    expect((await fly(['volumes', 'snapshots', 'create', vol.id, '-a', 'snap-app', '-c', 'fly.toml'])).stderr).toContain("unknown shorthand flag: 'c'");
    expect((await fly(['volumes', 'snapshots', 'create', 'vol_nope', '-a', 'snap-app'])).stderr).toContain('failed to snapshot vol_nope');
  });
});

describe.concurrent('ips, proxy, tokens (flyctl-day2.md §1-§3)', () => {
  test('first deploy: public pair by default, one private_v6 with --flycast, nothing with --no-public-ips; later deploys allocate nothing', async ({ fake, fly, json, writeProject }) => {
    writeProject();
    fake.addApp('claw-test');
    expect((await fly(['deploy', '--ha=false', '-y'])).code).toBe(0);
    const ips = json(await fly(['ips', 'list', '--json', '-a', 'claw-test']));
    expect(ips.map((ip: any) => ip.Type).sort()).toEqual(['shared_v4', 'v6']);
    expect(Object.keys(ips[0])).toEqual(['ID', 'Address', 'Type', 'Region', 'CreatedAt', 'ServiceName', 'Network']);
    expect(ips.find((ip: any) => ip.Type === 'shared_v4')).toMatchObject({ ID: '', Region: '', CreatedAt: '0001-01-01T00:00:00Z' });
    expect((await fly(['deploy', '--ha=false', '-y', '--flycast'])).stdout).toContain('http://claw-test.flycast');
    expect(json(await fly(['ips', 'list', '--json', '-a', 'claw-test']))).toHaveLength(2);

    fake.addApp('private-app');
    writeProject(FLY_TOML.replace('app = "claw-test"', 'app = "private-app"'));
    const flycast = await fly(['deploy', '--ha=false', '-y', '--flycast', '--no-public-ips']);
    expect(flycast.stdout).toMatch(/Provisioning ip address for private-app\n {2}Private ipv6: fdaa:/);
    expect(json(await fly(['ips', 'list', '--json', '-a', 'private-app'])).map((ip: any) => ip.Type)).toEqual(['private_v6']);
  });

  test('allocate-v6 [--private] has no -y; allocate-v4 needs -y unless --shared; release is sequential and stops at a bad address', async ({ fake, fly, json }) => {
    fake.addApp('ip-app');
    expect((await fly(['ips', 'allocate-v6', '-y', '-a', 'ip-app'])).stderr).toContain("unknown shorthand flag: 'y' in -y");
    expect((await fly(['ips', 'allocate-v6', '--private', '-a', 'ip-app'])).stdout).toMatch(/v6 │ fdaa:\S+ │ private ingress/);
    expect((await fly(['ips', 'allocate-v4', '-a', 'ip-app'])).stderr).toContain('yes flag must be specified when not running interactively');
    expect((await fly(['ips', 'allocate-v4', '--shared', '-a', 'ip-app'])).stdout).toMatch(/v4 │ \S+ │ shared │ global/);
    const [priv, shared] = json(await fly(['ips', 'list', '--json', '-a', 'ip-app']));
    const r = await fly(['ips', 'release', shared.Address, 'not-an-ip', priv.Address, '-a', 'ip-app']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`Released ${shared.Address} from ip-app\n`);
    expect(r.stderr).toContain("Invalid IP address: 'not-an-ip'");
    expect(json(await fly(['ips', 'list', '--json', '-a', 'ip-app']))).toEqual([priv]);
  });

  test('proxy listens for real, prints the one readiness line, exits 0 on SIGINT; an unknown host is a DNS error', async ({ fake, fly }) => {
    fake.addApp('px-app');
    const child = spawn('flyctl', ['proxy', '0:80', 'px-app.flycast', '-a', 'px-app', '-q'], { env: fake.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    while (!stdout.includes('\n')) await new Promise((r) => setTimeout(r, 50));
    const m = /^Proxying localhost:(\d+) to remote \[px-app\.flycast\]:80\n$/.exec(stdout);
    expect(m).not.toBeNull();
    expect((await fetch(`http://127.0.0.1:${m![1]}/x`)).status).toBe(200);
    const exited = new Promise((resolve) => child.on('close', resolve));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect((await fly(['proxy', '0:80', 'nope.flycast', '-a', 'px-app'])).stderr).toContain('nope.flycast: host was not found in DNS');
  });

  test('tokens create deploy: one FlyV1 line or {"token"}; -x takes Go durations (no d)', async ({ fake, fly, json }) => {
    fake.addApp('tok-app');
    expect((await fly(['tokens', 'create', 'deploy', '-a', 'tok-app'])).stdout).toMatch(/^FlyV1 fm2_[A-Za-z0-9+/=]+,fm2_[A-Za-z0-9+/=]+\n$/);
    expect(Object.keys(json(await fly(['tokens', 'create', 'deploy', '-a', 'tok-app', '-x', '720h', '--json'])))).toEqual(['token']);
    const bad = await fly(['tokens', 'create', 'deploy', '-a', 'tok-app', '-x', '30d']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('time: unknown unit "d" in duration "30d"');
  });
});

describe.concurrent('deploy', () => {
  test('first deploy creates one volume and one machine; later deploys update in place', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    writeProject();
    await fly(['apps', 'create', 'claw-test', '-o', 'personal']);
    const d1 = await fly(['deploy']);
    expect(d1.code, d1.stderr).toBe(0);
    expect(d1.stdout).toContain("Creating a 1 GB volume named 'clawdbot_data' for process group 'app'");
    expect(d1.stdout).toContain('✓');
    expect(d1.stdout).toContain('Visit your newly deployed app at');
    expect(d1.stdout).toContain('https://claw-test.fly.dev/');
    const all = json((await fly(['machines', 'list', '-a', 'claw-test', '--json'])));
    expect(all).toHaveLength(1); // mounts => one machine despite --ha
    const [m] = all;
    expect(m.state).toBe('started');
    expect(m.config.init.cmd).toEqual(['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', '3000', '--bind', 'lan']);
    expect(m.config.env).toEqual({ NODE_ENV: 'production', CLAWDBOT_STATE_DIR: '/data', FLY_PROCESS_GROUP: 'app', PRIMARY_REGION: 'iad' });
    expect(m.config.guest).toEqual({ cpu_kind: 'shared', cpus: 2, memory_mb: 2048 });
    expect(m.config.metadata.fly_platform_version).toBe('v2');
    expect(m.config.restart).toBeUndefined();
    expect(m.config.services[0]).toMatchObject({ internal_port: 3000, autostop: false, autostart: true, min_machines_running: 1 });
    const vols = json((await fly(['volumes', 'list', '-a', 'claw-test', '--json'])));
    expect(vols).toHaveLength(1);
    expect(vols[0].attached_machine_id).toBe(m.id);
    expect(m.config.mounts[0]).toMatchObject({ path: '/data', name: 'clawdbot_data', volume: vols[0].id });
    const sha1 = m.image_ref.labels['fakefly.dockerfile_sha256'];

    // manual changes, then a redeploy resets command/env but keeps guest? (fly.toml has [[vm]] so guest is reset too)
    expect((await fly(['machine', 'update', m.id, '-a', 'claw-test', '--command', 'node other.js', '-e', 'X=1', '-y'])).code).toBe(0);
    fs.writeFileSync(path.join(work, 'Dockerfile'), 'FROM node:22-bookworm\nRUN true\n');
    const before = fake.restarts(m.id);
    expect((await fly(['deploy', '-y'])).code).toBe(0);
    const [m2] = fake.machines('claw-test');
    expect(m2.id).toBe(m.id);
    expect(m2.config.init.cmd[0]).toBe('node');
    expect(m2.config.init.cmd[1]).toBe('dist/index.js');
    expect(m2.config.env.X).toBeUndefined();
    expect(m2.image_ref.labels['fakefly.dockerfile_sha256']).not.toBe(sha1);
    expect(fake.restarts(m.id)).toBe(before + 1);
    expect(Object.keys(fake.state().volumes)).toHaveLength(1);
  });

  test('keeps guest on redeploy without [[vm]]; [[restart]] maps to config.restart', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    writeProject(FLY_TOML.replace(/\[\[vm\]\][^[]*/, '') + '\n[[restart]]\n  policy = "never"\n');
    fake.addApp('claw-test');
    expect((await fly(['deploy'])).code).toBe(0);
    const [m] = json((await fly(['m', 'ls', '-a', 'claw-test', '--json'])));
    expect(m.config.guest).toEqual({ cpu_kind: 'shared', cpus: 1, memory_mb: 256 });
    expect(m.config.restart).toEqual({ policy: 'no' });
    expect((await fly(['machine', 'update', m.id, '-a', 'claw-test', '--vm-memory', '1024', '-y'])).code).toBe(0);
    expect((await fly(['deploy'])).code).toBe(0);
    const [m2] = json((await fly(['m', 'ls', '-a', 'claw-test', '--json'])));
    expect(m2.config.guest.memory_mb).toBe(1024);
  });

  test('fails when the only unattached volume is in another region', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    writeProject();
    fake.addApp('claw-test');
    await fly(['volumes', 'create', 'clawdbot_data', '-a', 'claw-test', '-r', 'lhr', '-y']);
    const d = await fly(['deploy']);
    expect(d.code).toBe(1);
    expect(d.stdout).not.toContain('Creating a 1 GB volume');
    expect(d.stderr).toContain("needs an unattached volume named 'clawdbot_data' in region 'iad'");
    expect(json((await fly(['m', 'list', '-a', 'claw-test', '--json'])))).toEqual([]);
  });

  test('validation errors and missing app', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    writeProject(FLY_TOML.replace('[mounts]', '[deploy]\n  strategy = "canary"\n\n[mounts]'));
    fake.addApp('claw-test');
    const d = await fly(['deploy']);
    expect(d.code).toBe(1);
    expect(d.stdout).toContain('error canary deployment strategy is not supported when using mounted volumes');
    expect(d.stderr).toContain('Error: App configuration is not valid');
    writeProject(FLY_TOML.replace('claw-test', 'ghost'));
    expect((await fly(['deploy'])).stderr).toContain('Error: app not found');
    const cv = await fly(['config', 'validate']);
    expect(cv.code).toBe(0);
    expect(cv.stdout).toBe(`Validating ${fs.realpathSync(work)}/fly.toml\n\x1b[32m✓\x1b[0m Configuration is valid\n\n`);
  });

  test('HA: a group with services and no mounts gets two machines unless --ha=false', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    writeProject(FLY_TOML.replace(/\[mounts\][^[]*$/, ''));
    fake.addApp('claw-test');
    expect((await fly(['deploy'])).code).toBe(0);
    expect(fake.machines('claw-test')).toHaveLength(2);
  });
});

describe.concurrent('secrets', () => {
  test('staged before first deploy, restart-only deploy afterwards, import quirks', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    fake.addApp('claw-test');
    const staged = await fly(['secrets', 'set', 'A=1', '-a', 'claw-test']);
    expect(staged.stdout).toBe('Secrets are staged for the first deployment\n');
    writeProject();
    await fly(['deploy']);
    const id = fake.machines('claw-test')[0].id;
    expect(fake.machineEnv('claw-test', id).A).toBe('1');

    const r0 = fake.restarts(id);
    await fly(['machine', 'update', id, '-a', 'claw-test', '--command', 'sleep 1', '-y']);
    const cmdBefore = fake.machines('claw-test')[0].config.init.cmd;
    const imp = await fly(['secrets', 'import', '-a', 'claw-test'], { input: '# c\nPASS=ab#cd\nQ="x y"\nS=\'z\'\n' });
    expect(imp.code, imp.stderr).toBe(0);
    expect(fake.restarts(id)).toBe(r0 + 2); // update + restart-only deployment
    expect(fake.machines('claw-test')[0].config.init.cmd).toEqual(cmdBefore); // config kept
    expect(fake.machineEnv('claw-test', id)).toMatchObject({ PASS: 'ab', Q: 'x y', S: 'z' });

    const st = await fly(['secrets', 'set', 'TOKEN=-', '--stage', '-a', 'claw-test'], { input: '  s3cret\n' });
    expect(st.stdout).toContain('Secrets have been staged, but not set on VMs.');
    expect(fake.machineEnv('claw-test', id).TOKEN).toBeUndefined();
    const list = json((await fly(['secrets', 'list', '-a', 'claw-test', '--json'])));
    expect(list.find((s: any) => s.name === 'TOKEN')).toMatchObject({ status: 'Staged' });
    expect(list.find((s: any) => s.name === 'A')).toMatchObject({ status: 'Deployed' });
    expect(Object.keys(list[0])).toEqual(['name', 'digest', 'status']);
    await fly(['machine', 'restart', id, '-a', 'claw-test']);
    expect(fake.machineEnv('claw-test', id).TOKEN).toBeUndefined(); // restart does not apply staged secrets
    await fly(['machine', 'update', id, '-a', 'claw-test', '-y']);
    expect(fake.machineEnv('claw-test', id).TOKEN).toBe('s3cret');

    expect((await fly(['secrets', 'set', 'bad', '-a', 'claw-test'])).stderr).toContain("'bad': must be in the format NAME=VALUE");
    expect((await fly(['secrets', 'import', '-a', 'claw-test'], { input: 'NOEQUALS\n' })).stderr).toContain('Secrets must be provided as NAME=VALUE pairs (NOEQUALS is invalid)');
    expect((await fly(['secrets', 'set', 'A=1', '--json', '-a', 'claw-test'])).stderr).toBe('Error: unknown flag: --json\n');
    const inv = fake.invocations().find((i: any) => i.argv.includes('TOKEN=-'));
    expect(inv.stdin).toMatchObject({ hadData: true, bytes: 9 });
  });
});

describe.concurrent('machines', () => {
  test('restart, update validation, status', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    const id = await deployedApp();
    const r = await fly(['machine', 'restart', id, '-a', 'claw-test']);
    expect(r.stdout).toBe(`Restarting machine ${id}\nMachine ${id} restarted successfully!\n`);
    expect(fake.restarts(id)).toBe(1);
    expect(fake.restartLog()[0]).toMatchObject({ machine: id, reason: 'restart' });
    expect((await fly(['machine', 'restart', 'nope', '-a', 'claw-test'])).stderr).toContain("machine nope was not found in app 'claw-test'");

    const tooHigh = await fly(['machine', 'update', id, '-a', 'claw-test', '--vm-memory', '8192', '-y']);
    expect(tooHigh.code).toBe(1);
    expect(tooHigh.stderr).toContain('Error: memory size for config is too high');
    expect(tooHigh.stderr).toContain('Try setting memory to a value <= 4096MiB');
    expect((await fly(['machine', 'update', id, '-a', 'claw-test', '--vm-memory', '1000', '-y'])).stderr).toContain('invalid memory size');
    expect((await fly(['machine', 'update', id, '-a', 'claw-test', '--vm-memory', '0', '-y'])).stderr).toContain('--vm-memory cannot be zero');
    expect((await fly(['machine', 'update', id, '-a', 'claw-test'])).stderr).toContain('no config changes found');
    expect((await fly(['machine', 'update', id, '-a', 'claw-test', '--vm-memory', '1024'])).stderr).toContain('yes flag must be specified');
    const ok = await fly(['machine', 'update', id, '-a', 'claw-test', '--vm-memory', '1gb', '--command', 'node dist/index.js gateway --port "3000"', '-y']);
    expect(ok.stdout).toContain(`Machine ${id} updated successfully!`);
    const [m] = fake.machines('claw-test');
    expect(m.config.guest.memory_mb).toBe(1024);
    expect(m.config.init.cmd).toEqual(['node', 'dist/index.js', 'gateway', '--port', '3000']);

    fake.addExitEvent('claw-test', id, { exit_code: 137, oom_killed: true });
    const [m2] = json((await fly(['machines', 'list', '-a', 'claw-test', '--json'])));
    const exit = m2.events.find((e: any) => e.type === 'exit' && e.request?.exit_event?.oom_killed);
    expect(exit.request.exit_event.exit_code).toBe(137);
    expect(typeof exit.timestamp).toBe('number');
    expect((await fly(['machine', 'status', id, '-a', 'claw-test'])).stdout).toContain('exit_code=137,oom_killed=true,requested_stop=false');
  });
});

describe.concurrent('ssh console', () => {
  test('tee / cat / sh -c against the machine filesystem', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    const id = await deployedApp();
    const body = '{"gateway":{"mode":"local"}}\n';
    const t = await fly(['ssh', 'console', '-a', 'claw-test', '--machine', id, '-q', '-C', 'tee /data/clawdbot.json'], { input: body });
    expect(t.code).toBe(0);
    expect(t.stdout).toBe(body);
    expect(t.stderr).toBe('');
    expect(fs.readFileSync(fake.machineFsPath('claw-test', id, '/data/clawdbot.json'), 'utf8')).toBe(body);
    const c = await fly(['ssh', 'console', '-a', 'claw-test', '-C', 'cat /data/clawdbot.json']);
    expect(c.stdout).toBe(body);
    expect(c.stderr).toMatch(/^Connecting to fdaa:.*complete\n$/);

    const script = "cp -p /data/clawdbot.json /data/clawdbot.json.bak && printf x > /data/.c.new && mv /data/.c.new /data/clawdbot.json && chmod 600 /data/clawdbot.json; ls -1 /data/*.bak; echo __RC=$?";
    const s = await fly(['ssh', 'console', '-a', 'claw-test', '-q', '-C', `sh -c '${script}'`]);
    expect(s.stdout).toBe('/data/clawdbot.json.bak\n__RC=0\n');
    expect(fs.statSync(fake.machineFsPath('claw-test', id, '/data/clawdbot.json')).mode & 0o777).toBe(0o600);

    const fail = await fly(['ssh', 'console', '-a', 'claw-test', '-q', '-C', 'cat /data/missing']);
    expect(fail.code).toBe(1);
    expect(fail.stderr).toContain('cat: /data/missing: No such file or directory');
    expect(fail.stderr).toContain('Error: ssh shell: Process exited with status 1');
    expect((await fly(['ssh', 'console', '-a', 'claw-test', '-q', '-C', "sh -c 'exit 7'"])).stderr).toContain('Process exited with status 7');

    // -C is not a shell: a glob is passed literally, so this removes nothing
    fs.writeFileSync(fake.machineFsPath('claw-test', id, '/data/gateway.9f80b0d2.lock'), '{}');
    expect((await fly(['ssh', 'console', '-a', 'claw-test', '-q', '-C', 'rm -f /data/gateway.*.lock'])).code).toBe(0);
    expect(fs.existsSync(fake.machineFsPath('claw-test', id, '/data/gateway.9f80b0d2.lock'))).toBe(true);
    await fly(['ssh', 'console', '-a', 'claw-test', '-q', '-C', "sh -c 'rm -f /data/gateway.*.lock'"]);
    expect(fs.existsSync(fake.machineFsPath('claw-test', id, '/data/gateway.9f80b0d2.lock'))).toBe(false);

    const pid = fake.gatewayPid('claw-test', id);
    expect((await fly(['ssh', 'console', '-a', 'claw-test', '-q', '-C', `kill -0 ${pid}`])).code).toBe(0);
    expect((await fly(['ssh', 'console', '-a', 'claw-test', '-q', '-C', `sh -c 'kill -0 99999 2>/dev/null || echo dead'`])).stdout).toBe('dead\n');
    expect((await fly(['ssh', 'console', '-a', 'claw-test', '-C', 'ls', '--json'])).stderr).toBe('Error: unknown flag: --json\n');
    expect(fake.sshCommands().length).toBeGreaterThan(5);
  });

  test('devices stand-in records argv; no started machines error', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    const id = await deployedApp();
    fake.setDevices('claw-test', id, { pending: [{ requestId: 'req1', deviceId: 'dev-abc', role: 'operator' }] });
    // The CLI dials 18789 unless told the gateway's port (3000 here), like the real one.
    const wrongPort = await fly(['ssh', 'console', '-a', 'claw-test', '-q', '-C', 'node dist/index.js devices list']);
    expect(wrongPort.stderr).toContain('connect ECONNREFUSED 127.0.0.1:18789');
    const l = await fly(['ssh', 'console', '-a', 'claw-test', '-q', '-C', 'node dist/index.js devices list --url=ws://127.0.0.1:3000']);
    expect(l.stdout).toContain('req1');
    const a = await fly(['ssh', 'console', '-a', 'claw-test', '-q', '-C', "sh -c 'clawdbot devices approve req1 --url ws://127.0.0.1:3000'"]);
    expect(a.code, a.stderr).toBe(0);
    const viaEnv = await fly(['ssh', 'console', '-a', 'claw-test', '-q', '-C', 'env CLAWDBOT_GATEWAY_PORT=3000 node dist/index.js devices list --json']);
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(fake.clawdbotCalls().map((c: any) => c.argv.slice(c.argv.indexOf('devices')).join(' '))).toEqual(['devices list', 'devices list --url=ws://127.0.0.1:3000', 'devices approve req1 --url ws://127.0.0.1:3000', 'devices list --json']);
    expect(fake.clawdbotCalls().at(-1).env).toEqual({ CLAWDBOT_GATEWAY_PORT: '3000' });
    fake.setMachine('claw-test', id, { state: 'stopped' });
    expect((await fly(['ssh', 'console', '-a', 'claw-test', '-C', 'ls'])).stderr).toContain('app claw-test has no started VMs.');
  });
});

describe.concurrent('logs', () => {
  test('prints seeded entries in text and json', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    fake.addApp('log-app');
    fake.seedLogs('log-app', ['[gateway] listening on ws://0.0.0.0:3000 (PID 42)', { message: 'boom', level: 'error' }], { machineId: 'm1', region: 'iad' });
    const t = await fly(['logs', '--no-tail', '-a', 'log-app']);
    expect(t.stdout.replace(/\x1b\[[0-9;]*m/g, '')).toMatch(/^\S+Z app\[m1\] iad \[info\]\[gateway\] listening on ws:\/\/0\.0\.0\.0:3000 \(PID 42\)\n/);
    const j = await fly(['logs', '--no-tail', '-a', 'log-app', '--json']);
    const docs = j.stdout.split(/\n(?=\{)/).map((d) => JSON.parse(d));
    expect(docs).toHaveLength(2);
    expect(Object.keys(docs[0])).toEqual(['level', 'instance', 'message', 'region', 'timestamp', 'meta']);
    expect(docs[1]).toMatchObject({ level: 'error', message: 'boom', meta: { Event: { Provider: 'app' } } });
  });

  test('hangs on an empty buffer (unless FAKEFLY_LOGS_EMPTY_EXIT=1)', async ({ fake, fly }) => {
    fake.addApp('log-app');
    const child = spawn('flyctl', ['logs', '--no-tail', '-a', 'log-app'], { env: fake.env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end();
    const result = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGTERM'); resolve('timeout'); }, 1200);
      child.on('exit', () => { clearTimeout(timer); resolve('exited'); });
    });
    expect(result).toBe('timeout');
    expect((await fly(['logs', '--no-tail', '-a', 'log-app'], { env: { FAKEFLY_LOGS_EMPTY_EXIT: '1' } }))).toMatchObject({ code: 0, stdout: '' });
  });
});

describe.concurrent('test hooks', () => {
  test('FAKEFLY_FAIL fails before mutating, with :N and match=', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    const a = await fly(['apps', 'create', 'x1', '-o', 'personal'], { env: { FAKEFLY_FAIL: 'apps create' } });
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/^Error: .*i\/o timeout/);
    expect(json((await fly(['apps', 'list', '--json'])))).toEqual([]);
    const env = { FAKEFLY_FAIL: 'app create:2' };
    expect((await fly(['apps', 'create', 'x2', '-o', 'personal'], { env })).code).toBe(1); // 2nd call overall of apps create
    expect((await fly(['apps', 'create', 'x3', '-o', 'personal'], { env })).code).toBe(0);
    const id = await deployedApp();
    const m = await fly(['ssh', 'console', '-a', 'claw-test', '-C', 'tee /data/x'], { env: { FAKEFLY_FAIL: 'ssh console:match=tee' }, input: 'abc' });
    expect(m.code).toBe(1);
    expect(fs.existsSync(fake.machineFsPath('claw-test', id, '/data/x'))).toBe(false);
    expect((await fly(['ssh', 'console', '-a', 'claw-test', '-C', 'ls /data'], { env: { FAKEFLY_FAIL: 'ssh console:match=tee' } })).code).toBe(0);
  });

  test('records invocations without stdin bytes, and applies latency', async ({ fake, work, fly, json, writeProject, deployedApp }) => {
    const r = await fly(['version'], { env: { FAKEFLY_LATENCY_MS: '150' } });
    expect(r.code).toBe(0);
    const [inv] = fake.invocations();
    expect(inv).toMatchObject({ argv: ['version'], exitCode: 0 });
    expect(inv.elapsedMs).toBeGreaterThanOrEqual(150);
    expect(inv.waitedMs).toBe(150);
    expect(JSON.stringify(fake.invocations())).not.toContain('s3cret');
  });

  test('latency only for the calls FAKEFLY_LATENCY_MATCH picks, and none once FAKEFLY_LATENCY_UNTIL exists', async ({ fake, work, fly }) => {
    const latency = 1_000;
    const until = path.join(work, 'signal-sent');
    const env = { FAKEFLY_LATENCY_MS: String(latency), FAKEFLY_LATENCY_MATCH: '^apps list', FAKEFLY_LATENCY_UNTIL: until };
    expect((await fly(['version'], { env })).code).toBe(0);
    expect((await fly(['apps', 'list', '--json'], { env })).code).toBe(0);
    fs.writeFileSync(until, '');
    expect((await fly(['apps', 'list', '--json'], { env })).code).toBe(0);
    const [version, slow, afterSignal] = fake.invocations();
    // which calls waited is recorded by the double; an upper bound on a measured time would be the machine's load
    expect([version.waitedMs, slow.waitedMs, afterSignal.waitedMs]).toEqual([0, latency, 0]);
    expect(slow.elapsedMs).toBeGreaterThanOrEqual(latency);
  });
});
