/**
 * `clawdfly deploy` through the real binary against the flyctl double: what exists on "Fly"
 * afterwards (apps, volumes, secrets, machines, the machine's /data/clawdbot.json bytes), which
 * flyctl calls were made (the double's invocation log) and how many machine restarts happened.
 */
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, TEST_SECRETS, useInProcessCli } from '../helpers/cli.js';
import { runAllowing } from '../operate/setup.js';
import { ALL_FAKES, ALL_OUTPUT, ALL_PROJECTS, APP, REMOTE_CONFIG, allSecretValues, modeOf, mutations, newProject, stopAppServer, verb, type Project } from './setup.js';

// clawdfly and its buffered flyctl calls in this process (logs and ssh still run bin/flyctl): no real process needed here
useInProcessCli();

const MIN = 60_000;

afterAll(async () => {
  await stopAppServer();
  for (const fake of ALL_FAKES) fake.cleanup();
});

function json(stdout: string): any {
  return JSON.parse(stdout);
}

function volumesOf(p: Project): { name: string; region: string; attached_machine_id: string | null }[] {
  return Object.values(p.fake.state().volumes).filter((v) => v.app === APP);
}

function editConfig(p: Project, edit: (c: any) => void): string {
  const config = JSON.parse(readFileSync(p.localConfigPath, 'utf8'));
  edit(config);
  const text = JSON.stringify(config, null, 2) + '\n';
  writeFileSync(p.localConfigPath, text);
  return text;
}

function setLocalSecret(p: Project, name: string, value: string): void {
  const file = join(p.dir, '.clawdfly', 'secrets.env');
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => !l.startsWith(`${name}=`) && l !== '');
  writeFileSync(file, [...lines, `${name}=${JSON.stringify(value)}`].join('\n') + '\n', { mode: 0o600 });
}

function localSecret(p: Project, name: string): string {
  const line = readFileSync(join(p.dir, '.clawdfly', 'secrets.env'), 'utf8').split('\n').find((l) => l.startsWith(`${name}=`))!;
  return JSON.parse(line.slice(name.length + 1)) as string;
}

async function deployed(): Promise<Project> {
  const p = await newProject();
  const first = await p.deploy(['--yes', '--json']);
  expect(first.code, first.stderr + first.stdout).toBe(0);
  return p;
}

describe('clawdfly deploy: fresh', () => {
  it('creates the app, one volume, the secrets over stdin, one machine; writes the config without a restart; verifies', async () => {
    const p = await newProject();
    const result = await p.deploy(['--yes', '--json']);
    expect(result.code, result.stderr + result.stdout).toBe(0);

    const out = json(result.stdout);
    expect(out.app).toBe(APP);
    expect(out.machineId).toBe(p.machineId());
    expect(out.url).toBe(p.env['CLAWDFLY_APP_URL']);
    expect(out.steps.map((s: any) => s.id)).toEqual(['preflight', 'app', 'network', 'volume', 'secrets', 'deploy', 'config', 'verify']);
    // A new public app gets its addresses from its first deploy: the network step has nothing to do.
    expect(out.steps.filter((s: any) => s.id !== 'network').every((s: any) => s.status === 'done' && typeof s.ms === 'number')).toBe(true);
    expect(out.steps.find((s: any) => s.id === 'network').status).toBe('skipped');
    expect(out.changes).toEqual(expect.arrayContaining(['app', 'volume', 'secrets', 'deploy', 'config']));

    // one app, one volume in primary_region, attached to the one machine, which is started
    expect(Object.keys(p.fake.state().apps)).toEqual([APP]);
    const machines = p.fake.machines(APP);
    expect(machines).toHaveLength(1);
    expect(machines[0]!.state).toBe('started');
    expect(volumesOf(p)).toEqual([expect.objectContaining({ name: 'clawdbot_data', region: 'iad', attached_machine_id: machines[0]!.id })]);

    // the secrets Fly holds are exactly the local values, and they went over stdin
    const local = { CLAWDBOT_GATEWAY_TOKEN: localSecret(p, 'CLAWDBOT_GATEWAY_TOKEN'), ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY, OPENAI_API_KEY: TEST_SECRETS.OPENAI_API_KEY };
    expect(p.fake.secrets(APP)).toEqual(local);
    const imports = p.fake.invocations().filter((i) => verb(i) === 'secrets import');
    expect(imports).toHaveLength(1);
    expect(imports[0]!.argv).toContain('--stage');
    expect(imports[0]!.stdin.bytes).toBeGreaterThan(64);
    expect(p.fake.invocations().some((i) => verb(i) === 'secrets set')).toBe(false);

    // deploy: from the project dir, single machine, remote builder
    const deploys = p.fake.invocations().filter((i) => verb(i) === 'deploy');
    expect(deploys).toHaveLength(1);
    expect(deploys[0]!.argv).toEqual(expect.arrayContaining(['--ha=false', '--remote-only', '-c', 'fly.toml', '-a', APP]));

    // the gateway's config on the volume is byte-for-byte the local file, 0600; no restart for it
    expect(p.remoteConfig()).toBe(readFileSync(p.localConfigPath, 'utf8'));
    expect(modeOf(p.fake.machineFsPath(APP, p.machineId(), REMOTE_CONFIG))).toBe(0o600);
    expect(p.fake.restarts()).toBe(0);
    expect(p.fake.invocations().some((i) => /^machines? restart$/.test(verb(i)))).toBe(false);

    // the local record holds no secret value
    const state = readFileSync(join(p.dir, '.clawdfly', 'state.json'), 'utf8');
    for (const value of Object.values(local)) expect(state).not.toContain(value);
    // it holds the salt beside the salted hashes: owner-only, and git-ignored
    expect(statSync(join(p.dir, '.clawdfly', 'state.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(p.dir, '.gitignore'), 'utf8').split('\n')).toContain('.clawdfly/state.json');
  }, 2 * MIN);
});

describe('clawdfly deploy: re-run', () => {
  it('after success makes zero remote mutations: no app, volume, secret, deploy or config write', async () => {
    const p = await deployed();
    const mark = p.fake.invocations().length;
    const again = await p.deploy(['--yes', '--json']);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(mutations(p.since(mark))).toEqual([]);
    const steps = Object.fromEntries(json(again.stdout).steps.map((s: any) => [s.id, s.status]));
    expect(steps).toMatchObject({ app: 'skipped', volume: 'skipped', secrets: 'skipped', deploy: 'skipped', config: 'done', verify: 'done' });
    expect(json(again.stdout).changes).toEqual([]);
    expect(volumesOf(p)).toHaveLength(1);
    expect(p.fake.machines(APP)).toHaveLength(1);
    expect(p.fake.restarts()).toBe(0);
  }, 3 * MIN);

  it('re-sets only a secret that changed locally, then deploys to apply it; the config is not rewritten', async () => {
    const p = await deployed();
    const token = localSecret(p, 'CLAWDBOT_GATEWAY_TOKEN');
    setLocalSecret(p, 'ANTHROPIC_API_KEY', 'test-anthropic-rotated-0b9e7c5a3f1d');
    const mark = p.fake.invocations().length;
    const again = await p.deploy(['--yes', '--json'], {});
    expect(again.code, again.stderr + again.stdout).toBe(0);
    const made = p.since(mark);
    expect(made.filter((i) => verb(i) === 'secrets import')).toHaveLength(1);
    expect(made.filter((i) => verb(i) === 'deploy')).toHaveLength(1);
    expect(made.filter((i) => /^(apps|volumes?) create$/.test(verb(i)))).toEqual([]);
    expect(made.some((i) => i.argv.join(' ').includes(' config-push /data '))).toBe(false);
    // exactly the changed one: the stdin was one NAME="value" line
    const imported = made.find((i) => verb(i) === 'secrets import')!;
    expect(imported.stdin.bytes).toBe(Buffer.byteLength(`ANTHROPIC_API_KEY="test-anthropic-rotated-0b9e7c5a3f1d"\n`));
    expect(p.fake.secrets(APP)).toMatchObject({ ANTHROPIC_API_KEY: 'test-anthropic-rotated-0b9e7c5a3f1d', CLAWDBOT_GATEWAY_TOKEN: token });
    expect(volumesOf(p)).toHaveLength(1);
  }, 3 * MIN);

  it('a secret changed on Fly behind its back is set again; a remote config the gateway only annotated is left alone', async () => {
    const p = await deployed();
    // a second run learns Fly's digests of what we set
    expect((await p.deploy(['--yes'])).code).toBe(0);
    // someone ran `fly secrets set ANTHROPIC_API_KEY=…`
    await new Promise<void>((resolve, reject) => {
      import('node:child_process').then(({ spawn }) => {
        const child = spawn('flyctl', ['secrets', 'import', '--stage', '-a', APP], { env: p.env, stdio: ['pipe', 'ignore', 'ignore'] });
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`import ${code}`))));
        child.stdin.end('ANTHROPIC_API_KEY="test-anthropic-someone-else-4d2c"\n');
      }, reject);
    });
    // the gateway stamped meta into its file at start
    const remote = JSON.parse(p.remoteConfig()!);
    writeFileSync(p.fake.machineFsPath(APP, p.machineId(), REMOTE_CONFIG), JSON.stringify({ meta: { lastTouchedVersion: '2026.1.24-3', lastTouchedAt: '2026-11-24T05:57:30.588Z' }, ...remote }, null, 2));
    const mark = p.fake.invocations().length;
    const again = await p.deploy(['--yes']);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    const made = p.since(mark);
    expect(made.filter((i) => verb(i) === 'secrets import')).toHaveLength(1);
    expect(p.fake.secrets(APP)['ANTHROPIC_API_KEY']).toBe(TEST_SECRETS.ANTHROPIC_API_KEY);
    expect(made.some((i) => i.argv.join(' ').includes(' config-push /data '))).toBe(false);
  }, 3 * MIN);

  it('a changed clawdbot.json is the volume\'s business: no new image, the live file is replaced with a backup, no restart', async () => {
    const p = await deployed();
    const before = p.remoteConfig();
    const text = editConfig(p, (c) => (c.agents.defaults.maxConcurrent = 2));
    const mark = p.fake.invocations().length;
    const restarts = p.fake.restarts();
    const again = await p.deploy(['--yes', '--json']);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    const made = p.since(mark);
    expect(made.filter((i) => verb(i) === 'deploy')).toEqual([]);
    expect(made.filter((i) => verb(i) === 'secrets import')).toEqual([]);
    expect(p.remoteConfig()).toBe(text);
    const backups = readdirSync(p.fake.machineFsPath(APP, p.machineId(), '/data')).filter((f) => /^clawdbot\.json\.\d{8}T\d+Z\.bak$/.test(f));
    expect(backups).toHaveLength(1);
    expect(readFileSync(p.fake.machineFsPath(APP, p.machineId(), `/data/${backups[0]}`), 'utf8')).toBe(before);
    expect(p.fake.restarts() - restarts).toBe(0);
  }, 3 * MIN);
});

describe('clawdfly deploy after day-2 commands: nothing needless', () => {
  function plannedSteps(stdout: string): Record<string, string> {
    return Object.fromEntries(json(stdout).steps.map((s: { id: string; action: string }) => [s.id, s.action]));
  }

  it('config push (hot-reloaded) then deploy --dry-run plans no image deploy', async () => {
    const p = await deployed();
    editConfig(p, (c) => (c.agents.defaults.maxConcurrent = 3));
    const push = await runCli(['config', 'push', '--yes', '--no-restart', '--wait', '1', '--dir', p.dir], { env: p.env, timeoutMs: MIN });
    expect(push.code, push.stderr + push.stdout).toBe(0);
    const plan = await p.deploy(['--dry-run', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plannedSteps(plan.stdout)).toMatchObject({ app: 'skip', volume: 'skip', secrets: 'skip', deploy: 'skip' });
  }, 3 * MIN);

  it('token --rotate then deploy --dry-run plans neither a secret nor a deploy', async () => {
    const p = await deployed();
    const rotate = await runAllowing(['token', '--rotate', '--yes', '--dir', p.dir], { cwd: p.dir, env: p.env, allow: () => [localSecret(p, 'CLAWDBOT_GATEWAY_TOKEN')] });
    expect(rotate.code, rotate.stderr).toBe(0);
    const plan = await p.deploy(['--dry-run', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plannedSteps(plan.stdout), plan.stdout).toMatchObject({ secrets: 'skip', deploy: 'skip' });
    const mark = p.fake.invocations().length;
    const again = await p.deploy(['--yes', '--json']);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(mutations(p.since(mark))).toEqual([]);
  }, 3 * MIN);
});

describe('clawdfly deploy: refusals before any change', () => {
  it('--dry-run prints every flyctl call (secrets as ***) and changes nothing', async () => {
    const p = await newProject();
    const stateFile = join(p.dir, '.clawdfly', 'state.json');
    const human = await p.deploy(['--dry-run']);
    expect(human.code, human.stderr + human.stdout).toBe(0);
    expect(human.stdout).toContain('flyctl apps create test-claw');
    expect(human.stdout).toContain('flyctl volumes create clawdbot_data -r iad -s 1 --vm-size shared-cpu-2x --vm-memory 2048 -y');
    expect(human.stdout).toContain('flyctl secrets import --stage -a test-claw');
    expect(human.stdout).toContain('stdin: CLAWDBOT_GATEWAY_TOKEN=***');
    expect(human.stdout).toMatch(/\(cd \S+ && flyctl deploy -a test-claw -c fly\.toml --ha=false --remote-only/);
    const machine = await p.deploy(['--dry-run', '--json']);
    expect(machine.code, machine.stderr + machine.stdout).toBe(0);
    const plan = json(machine.stdout);
    expect(plan.dryRun).toBe(true);
    expect(plan.steps.map((s: any) => [s.id, s.action])).toEqual([['app', 'create'], ['network', 'skip'], ['volume', 'create'], ['secrets', 'set'], ['deploy', 'deploy'], ['config', 'ensure'], ['verify', 'check']]);
    expect(plan.steps[3].stdin).toEqual(['CLAWDBOT_GATEWAY_TOKEN=***', 'ANTHROPIC_API_KEY=***', 'OPENAI_API_KEY=***']);
    expect(plan.steps[3].argv).toEqual([['flyctl', 'secrets', 'import', '--stage', '-a', APP]]);
    // nothing on Fly, nothing written locally, only reads were made
    expect(p.fake.state().apps).toEqual({});
    expect(mutations(p.fake.invocations())).toEqual([]);
    expect(() => readFileSync(stateFile)).toThrow();
  }, 2 * MIN);

  it('--app <name> --dry-run plans for that app instead of the one in fly.toml', async () => {
    const p = await newProject();
    const r = await p.deploy(['--app', 'other-claw', '--dry-run']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('flyctl apps create other-claw');
    expect(r.stdout).toContain('flyctl secrets import --stage -a other-claw');
    expect(r.stdout).not.toMatch(/-a test-claw\b/);
    expect(p.fake.state().apps).toEqual({});
    expect(mutations(p.fake.invocations())).toEqual([]);
  }, 2 * MIN);

  it('an invalid clawdbot.json is refused (exit 2) before flyctl is even asked: no app is created', async () => {
    const p = await newProject();
    editConfig(p, (c) => (c.foo = 1));
    const result = await p.deploy(['--yes']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/clawdbot\.json:\d+: <root>: Unrecognized key: "foo"/);
    expect(p.fake.invocations()).toEqual([]);
  }, MIN);

  it('memory below 1024 MB in fly.toml is refused (exit 2), nothing created', async () => {
    const p = await newProject();
    const toml = join(p.dir, 'fly.toml');
    writeFileSync(toml, readFileSync(toml, 'utf8').replace(/memory = "\d+mb"/, 'memory = "512mb"'));
    const result = await p.deploy(['--yes']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('512 MB');
    expect(result.stderr).toContain('memory = "2048mb"');
    expect(p.fake.invocations()).toEqual([]);
  }, MIN);

  it('the app name is taken: refused input (exit 2), a clear message with another name, and nothing else is created', async () => {
    const p = await newProject({ fakeEnv: { FAKEFLY_TAKEN_NAMES: APP } });
    const result = await p.deploy(['--yes']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`the app name "${APP}" is taken`);
    expect(result.stderr).toMatch(/clawdfly init --dir \S+ --app test-claw-\w+/);
    expect(mutations(p.fake.invocations()).map((m) => m.split(' ').slice(0, 2).join(' '))).toEqual(['apps create']);
    expect(volumesOf(p)).toEqual([]);
  }, MIN);

  it('not logged in: says so with the login command, changes nothing', async () => {
    const p = await newProject({ fakeEnv: { FAKEFLY_AUTH: 'none' } });
    const result = await p.deploy(['--yes']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('not logged in to Fly.io');
    expect(result.stderr).toContain('fly auth login');
    expect(mutations(p.fake.invocations())).toEqual([]);
  }, MIN);

  it('flyctl missing: the install hint, exit 1', async () => {
    const p = await newProject();
    const result = await p.deploy(['--yes'], { PATH: '/nonexistent', HOME: p.dir, CLAWDFLY_FLYCTL: undefined });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('flyctl is not installed');
    expect(result.stderr).toContain('https://fly.io/install.sh');
    expect(p.fake.invocations()).toEqual([]);
  }, MIN);

  it('flyctl too old: names the version and the upgrade, changes nothing', async () => {
    const p = await newProject({ fakeEnv: { FAKEFLY_VERSION: '0.4.79' } });
    const result = await p.deploy(['--yes']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('flyctl 0.4.79 is too old');
    expect(result.stderr).toContain('fly version upgrade');
    expect(mutations(p.fake.invocations())).toEqual([]);
  }, MIN);

  it('a volume of that name only in another region is refused with the fix (Fly would fail "needs an unattached volume … in region")', async () => {
    const p = await newProject();
    p.fake.addApp(APP);
    const { spawnSync } = await import('node:child_process');
    const made = spawnSync('flyctl', ['volumes', 'create', 'clawdbot_data', '-r', 'lhr', '-y', '-a', APP], { env: p.env, encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const mark = p.fake.invocations().length;
    const result = await p.deploy(['--yes']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('exists only outside primary_region iad');
    expect(result.stderr).toContain('primary_region = "lhr"');
    expect(result.stderr).toMatch(/fly volumes destroy vol_\w+ -a test-claw/);
    expect(mutations(p.since(mark))).toEqual([]);
  }, MIN);
});

describe('clawdfly deploy: failure at each step, then a successful re-run', () => {
  // [name, FAKEFLY_FAIL, message, check that a third run has nothing left to do]
  const cases: [string, string, RegExp, boolean][] = [
    ['apps create', 'apps create', /apps create failed/, false],
    ['volumes create', 'volumes create', /volumes create failed/, false],
    ['secrets import', 'secrets import', /secrets import failed/, true],
    ['deploy', 'deploy', /deploy failed/, false],
    ['ssh: reading the config', 'ssh console:1', /ssh console failed/, false],
    ['ssh: committing the config', 'ssh console:match=config-push', /ssh console failed/, true],
    ['logs while verifying', 'logs', /logs failed/, true],
  ];
  it.each(cases)('%s', async (_name, fail, message, third) => {
    const p = await newProject();
    const failed = await p.deploy(['--yes'], { FAKEFLY_FAIL: fail });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(message);
    const resumed = await p.deploy(['--yes', '--json']);
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    // the end state is the same as an uninterrupted deploy's
    expect(Object.keys(p.fake.state().apps)).toEqual([APP]);
    expect(volumesOf(p)).toHaveLength(1);
    expect(p.fake.machines(APP)).toHaveLength(1);
    expect(p.fake.machines(APP)[0]!.state).toBe('started');
    expect(p.remoteConfig()).toBe(readFileSync(p.localConfigPath, 'utf8'));
    expect(p.fake.secrets(APP)['CLAWDBOT_GATEWAY_TOKEN']).toBe(localSecret(p, 'CLAWDBOT_GATEWAY_TOKEN'));
    expect(p.fake.invocations().filter((i) => verb(i) === 'apps create' && i.exitCode === 0)).toHaveLength(1);
    expect(p.fake.restarts()).toBe(0);
    if (!third) return;
    // and a third run has nothing left to do
    const mark = p.fake.invocations().length;
    expect((await p.deploy(['--yes'])).code).toBe(0);
    expect(mutations(p.since(mark))).toEqual([]);
  }, 4 * MIN);
});

describe('clawdfly deploy: verification reads the evidence and fails fast', () => {
  it('a gateway bound to 127.0.0.1 fails at once with its own log line', async () => {
    const p = await deployed();
    p.fake.setMachine(APP, p.machineId(), { fake: { listenOverride: [{ command: 'node dist/index.js gateway --port 3000', addresses: ['127.0.0.1:3000', '[::1]:3000'] }] } });
    appendFileSync(join(p.dir, 'Dockerfile'), '\n# an image change, so deploy replaces the machine\n');
    const mark = p.fake.invocations().length;
    const result = await p.deploy(['--yes'], { CLAWDFLY_VERIFY_TIMEOUT_MS: '60000' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('listens on 127.0.0.1:3000');
    expect(result.stderr).toContain('--bind lan');
    expect(result.stderr).toMatch(/\[gateway\] listening on ws:\/\/127\.0\.0\.1:3000/);
    // "at once" is evidence, not a clock: the first look at the logs judged it (a wait for the
    // deadline would poll every 300 ms for 60 s and end in verify-timeout's text instead)
    expect(result.stderr).not.toMatch(/within \d+ s/);
    expect(p.since(mark).filter((i) => verb(i) === 'logs')).toHaveLength(1);
  }, 2 * MIN);

  it('an out-of-memory crash is reported with the exit event and the last log lines, long before the deadline', async () => {
    const p = await deployed();
    const id = p.machineId();
    // what happens while deploy watches: the gateway dies of OOM (exit 134 from V8), Fly restarts it.
    // The double applies it at the CLI's first flyctl call, stamped with that call's clock.
    p.fake.scheduleExit(APP, id, { exit_code: 134, oom_killed: false }, [
      'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
      ' 9: 0x189e94c v8::internal::Runtime_AllocateInYoungGeneration(int, unsigned long*, v8::internal::Isolate*) [clawdbot-gateway]',
    ]);
    const mark = p.fake.invocations().length;
    const result = await p.deploy(['--yes'], { CLAWDFLY_VERIFY_TIMEOUT_MS: '60000' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the gateway ran out of memory');
    expect(result.stderr).toContain('exit: code 134');
    expect(result.stderr).toContain('Reached heap limit');
    expect(result.stderr).toContain('2048mb');
    // long before the deadline: judged at the first look at the logs, not by the 60 s timeout
    expect(result.stderr).not.toMatch(/within \d+ s/);
    expect(p.since(mark).filter((i) => verb(i) === 'logs')).toHaveLength(1);
  }, 2 * MIN);

  it('a re-run follows the same URL rule as a first deploy: a warning after the URL window, not a 120 s wait and a failure', async () => {
    const p = await newProject();
    const first = await p.deploy(['--yes', '--json']);
    expect(first.code, first.stderr).toBe(0);
    appendFileSync(join(p.dir, 'Dockerfile'), '\n# a change, so the re-run deploys and verifies\n');
    // a 120 s deadline and a short URL window (the test-only knob): a re-run that waited the deadline
    // out would end in verify-timeout (exit 1), so exit 0 with the warning is the evidence
    const again = await p.deploy(['--yes', '--json', '--verify-timeout', '120'], { CLAWDFLY_APP_URL: 'http://127.0.0.1:9/', CLAWDFLY_VERIFY_TIMEOUT_MS: undefined, CLAWDFLY_VERIFY_URL_WINDOW_MS: '1500' });
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(json(again.stdout).warnings.join('\n')).toMatch(/does not answer yet .*clawdfly doctor/);
  }, 2 * MIN);

  it('--verify-timeout must be whole seconds ≥ 10 (exit 2, nothing changed)', async () => {
    const p = await newProject();
    const r = await p.deploy(['--yes', '--verify-timeout', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--verify-timeout takes a whole number of seconds, at least 10');
    expect(p.fake.invocations()).toEqual([]);
  });

  it('a brand-new app whose URL does not answer yet is a warning, not a failure', async () => {
    const p = await newProject({ fakeEnv: { CLAWDFLY_APP_URL: 'http://127.0.0.1:9/', CLAWDFLY_VERIFY_URL_WINDOW_MS: '1500' } });
    const result = await p.deploy(['--yes', '--json']);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(json(result.stdout).warnings.join('\n')).toContain('does not answer yet');
  }, 2 * MIN);
});

describe('secrets never leak', () => {
  it('with --verbose (every flyctl call shown), nothing printed holds a secret value; people get the URL and how to get the token', async () => {
    const p = await newProject();
    const result = await p.deploy(['--yes', '--verbose']);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stderr).toContain('$ flyctl secrets import --stage');
    expect(result.stderr).toContain('(stdin piped)');
    expect(result.stdout).toContain(`${APP} is running: ${p.env['CLAWDFLY_APP_URL']}`);
    expect(result.stdout).toContain('clawdfly token');
    expect(result.stdout).toMatch(/✔ fly deploy .*\(\d+\.\ds\)/);
    expect(result.stdout).toContain('config: written to /data/clawdbot.json');
  }, 2 * MIN);

  // Runs last: every flyctl argv the double recorded in this file and every byte clawdfly printed.
  it('no secret value in any recorded flyctl argv, in anything printed, or in a file other than secrets.env', () => {
    const secrets = allSecretValues();
    expect(secrets.length).toBeGreaterThan(Object.keys(TEST_SECRETS).length);
    const argvs = ALL_FAKES.flatMap((f) => f.invocations().map((i) => i.argv.join('\u0000')));
    expect(argvs.length).toBeGreaterThan(100);
    const printed = ALL_OUTPUT.join('\n');
    expect(printed.length).toBeGreaterThan(1000);
    const files = ALL_PROJECTS.flatMap((dir) =>
      ['fly.toml', 'clawdbot.json', 'Dockerfile', '.clawdfly/state.json', '.clawdfly/answers.json'].map((f) => {
        try {
          return readFileSync(join(dir, f), 'utf8');
        } catch {
          return '';
        }
      }),
    );
    const hits = secrets.flatMap((s) => [
      ...argvs.filter((a) => a.includes(s)).map(() => 'argv'),
      ...(printed.includes(s) ? ['output'] : []),
      ...files.filter((f) => f.includes(s)).map(() => 'file'),
    ]);
    expect(hits).toEqual([]);
  });
});
