/**
 * Off-site copies, the laptop's side, against the flyctl double (`fly storage create` per
 * flyctl-day2.md §9: credentials printed in clear text, deployed at once):
 *   - `backup schedule --every` provisions the bucket, keeps its credentials and a new key in
 *     secrets.env (0600), stages the key on Fly over stdin, and sets fly.toml [env]; the printed
 *     credentials and the key appear in no output and on no argv; `--dry-run` prints exactly the
 *     flyctl calls the run then makes; a re-run converges; `--off` takes the schedule out again;
 *   - every refusal is one line, its fix, exit 2, and nothing half-written here or on Fly;
 *   - `deploy` puts the key back on an app that lacks it;
 *   - `backup list --remote` and `restore --from remote` run the image's uploader on the machine
 *     (a stand-in here: the real one is templates/runtime/offsite.mjs), its names filtered.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assertNoSecrets, BIN, initProject, projectSecrets, runCli, tempDir, useInProcessCli } from '../helpers/cli.js';
import { APP, deployedProject, type Deployed } from '../config/setup.js';
// @ts-expect-error plain ESM without types
import { createFakeFly } from '../fakefly/control.mjs';

useInProcessCli();

const live: { cleanup(): void; dir: string }[] = [];
afterEach((ctx) => {
  for (const f of live.splice(0)) {
    if (ctx.task.result?.state === 'fail') console.error(`fakefly state kept: ${f.dir}`);
    else f.cleanup();
  }
});

const STORAGE_NAMES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'BUCKET_NAME'];

async function deployed(): Promise<Deployed> {
  const d = await deployedProject(['--runtime', 'openclaw']);
  live.push(d.fake);
  return d;
}

function secretsEnv(d: { dir: string }): Record<string, string> {
  const file = join(d.dir, '.clawdfly', 'secrets.env');
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = JSON.parse(m[2]!) as string;
  }
  return out;
}

/** What a refused run must leave as it was: the project's files and every secret and bucket on Fly. */
function snapshot(d: Deployed): string {
  const files = ['fly.toml', '.clawdfly/secrets.env', '.clawdfly/answers.json', '.clawdfly/written.json'].map((f) => (existsSync(join(d.dir, f)) ? readFileSync(join(d.dir, f), 'utf8') : '-'));
  const state = d.fake as unknown as { secrets(app: string): Record<string, string>; buckets(): Record<string, unknown> };
  return JSON.stringify({ files, secrets: state.secrets(APP), buckets: state.buckets() });
}

function flyctl(d: Deployed, args: string[], input?: string) {
  return spawnSync('flyctl', args, { cwd: d.dir, env: d.fake.env, encoding: 'utf8', input });
}

const mutating = (d: Deployed, from = 0) =>
  d.fake.invocations().slice(from).map((i) => i.argv).filter((argv) => (argv[0] === 'storage' && argv[1] === 'create') || (argv[0] === 'secrets' && argv[1] !== 'list'));

describe('backup schedule', () => {
  it('provisions the bucket, keeps its credentials and a new key in secrets.env (0600), stages the key over stdin, and sets fly.toml [env]; no secret in any output or argv', async () => {
    const d = await deployed();
    const r = await d.cli(['backup', 'schedule', '--every', '1h', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const secrets = secretsEnv(d);
    for (const name of [...STORAGE_NAMES, 'CLAWDFLY_BACKUP_KEY']) expect(secrets[name], name).toBeTruthy();
    expect(secrets['BUCKET_NAME']).toBe(`${APP}-backups`);
    expect(Buffer.from(secrets['CLAWDFLY_BACKUP_KEY']!, 'base64')).toHaveLength(32);
    expect(statSync(join(d.dir, '.clawdfly', 'secrets.env')).mode & 0o777).toBe(0o600);
    // the credentials Fly printed are the bucket's own, and the key on Fly is the one kept here
    const fake = d.fake as unknown as { secrets(app: string): Record<string, string>; buckets(): Record<string, { accessKeyId: string; app: string }> };
    expect(fake.buckets()[`${APP}-backups`]).toMatchObject({ app: APP, accessKeyId: secrets['AWS_ACCESS_KEY_ID'] });
    expect(fake.secrets(APP)['CLAWDFLY_BACKUP_KEY']).toBe(secrets['CLAWDFLY_BACKUP_KEY']);
    // fly.toml [env] and answers.json (init and upgrade re-render from it)
    const toml = readFileSync(join(d.dir, 'fly.toml'), 'utf8');
    expect(toml).toMatch(/^\s*CLAWDFLY_OFFSITE_EVERY = "1h"$/m);
    expect(JSON.parse(readFileSync(join(d.dir, '.clawdfly', 'answers.json'), 'utf8')).offsiteEvery).toBe('1h');
    // the key: on stdin only, said once
    const imports = d.fake.invocations().filter((i) => i.argv[0] === 'secrets' && i.argv[1] === 'import');
    expect(imports).toHaveLength(1);
    expect(imports[0]!.argv).toEqual(['secrets', 'import', '--stage', '-a', APP]);
    expect(imports[0]!.stdin.bytes).toBeGreaterThan(0);
    const all = r.stdout + r.stderr;
    expect(all.match(/without it none of them can be restored/g)).toHaveLength(1);
    for (const value of [secrets['AWS_ACCESS_KEY_ID']!, secrets['AWS_SECRET_ACCESS_KEY']!, secrets['CLAWDFLY_BACKUP_KEY']!]) {
      expect(all).not.toContain(value);
      for (const i of d.fake.invocations()) expect(i.argv.join(' ')).not.toContain(value);
    }
    // --verbose shows every flyctl call, still without them
    const again = await d.cli(['backup', 'schedule', '--every', '1h', '--verbose', '--yes']);
    expect(again.code, again.stderr).toBe(0);
    for (const value of [secrets['AWS_SECRET_ACCESS_KEY']!, secrets['CLAWDFLY_BACKUP_KEY']!]) expect(again.stdout + again.stderr).not.toContain(value);
  });

  it('--dry-run prints exactly the flyctl calls the run then makes, and changes nothing', async () => {
    const d = await deployed();
    const before = snapshot(d);
    const from = d.fake.invocations().length;
    const dry = await d.cli(['backup', 'schedule', '--every', '30m', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(snapshot(d)).toBe(before);
    expect(mutating(d, from)).toEqual([]);
    const plan = JSON.parse(dry.stdout) as { steps: { id: string; action: string; argv?: string[]; stdin?: string[] }[] };
    expect(plan.steps.map((s) => `${s.id}:${s.action}`)).toEqual(['bucket:create', 'secrets-file:write', 'key:set', 'fly-toml:write']);
    expect(plan.steps.find((s) => s.id === 'key')!.stdin).toEqual(['CLAWDFLY_BACKUP_KEY=***']);
    const planned = plan.steps.flatMap((s) => (s.argv ? [s.argv.slice(1)] : []));
    const at = d.fake.invocations().length;
    const r = await d.cli(['backup', 'schedule', '--every', '30m', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(mutating(d, at)).toEqual(planned);
    expect(planned[0]).toEqual(['storage', 'create', '-n', `${APP}-backups`, '-y', '-a', APP]);
    expect(readFileSync(join(d.dir, 'fly.toml'), 'utf8')).toMatch(/CLAWDFLY_OFFSITE_EVERY = "30m"/);
  });

  it('a re-run converges (no second bucket, the same key), a new interval only changes fly.toml, and --off takes the schedule out', async () => {
    const d = await deployed();
    expect((await d.cli(['backup', 'schedule', '--every', '1h', '--yes'])).code).toBe(0);
    const key = secretsEnv(d)['CLAWDFLY_BACKUP_KEY'];
    const from = d.fake.invocations().length;
    const r = await d.cli(['backup', 'schedule', '--every', '1d', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(mutating(d, from)).toEqual([]);
    expect(secretsEnv(d)['CLAWDFLY_BACKUP_KEY']).toBe(key);
    expect(readFileSync(join(d.dir, 'fly.toml'), 'utf8')).toMatch(/CLAWDFLY_OFFSITE_EVERY = "24h"/);
    expect(r.stdout + r.stderr).not.toMatch(/without it none of them can be restored/);

    const off = await d.cli(['backup', 'schedule', '--off']);
    expect(off.code, off.stderr).toBe(0);
    const toml = readFileSync(join(d.dir, 'fly.toml'), 'utf8');
    expect(toml).not.toMatch(/CLAWDFLY_OFFSITE_EVERY|backup schedule/);
    expect(JSON.parse(readFileSync(join(d.dir, '.clawdfly', 'answers.json'), 'utf8')).offsiteEvery).toBeUndefined();
    // the key stays: the copies already in the bucket need it
    expect(secretsEnv(d)['CLAWDFLY_BACKUP_KEY']).toBe(key);
    // init re-renders fly.toml as scheduled: a scheduled project keeps the line through init
    expect((await d.cli(['backup', 'schedule', '--every', '6h'])).code).toBe(0);
    const init = await runCli(['init', '--yes', '--dir', d.dir, '--runtime', 'openclaw'], { env: d.fake.env });
    expect(init.code, init.stderr).toBe(0);
    expect(readFileSync(join(d.dir, 'fly.toml'), 'utf8')).toMatch(/CLAWDFLY_OFFSITE_EVERY = "6h"/);
    expect(secretsEnv(d)['CLAWDFLY_BACKUP_KEY']).toBe(key);
  });

  it.each([
    [['--every', '2x'], /is not an interval/],
    [['--every', '1m'], /too often/],
    [['--every', '30d'], /too rare/],
    [[], /say how often/],
    [['--every', '1h', '--off'], /contradict/],
  ])('refuses %j: one line, the fix, exit 2, no flyctl call', async (flags, cause) => {
    const d = await deployed();
    const before = snapshot(d);
    const from = d.fake.invocations().length;
    const r = await d.cli(['backup', 'schedule', ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(cause);
    expect(r.stderr).toMatch(/→ clawdfly backup schedule (--dir \S+ )?--every 1h/);
    expect(d.fake.invocations().length).toBe(from);
    expect(snapshot(d)).toBe(before);
  });

  it('without a terminal, making the bucket needs --yes (it restarts the machine): exit 2, nothing made', async () => {
    const d = await deployed();
    const before = snapshot(d);
    const r = await d.cli(['backup', 'schedule', '--every', '1h']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs confirmation and there is no terminal/);
    expect(r.stderr).toMatch(/→ add --yes: clawdfly backup schedule .*--every 1h --yes/);
    expect(mutating(d)).toEqual([]);
    expect(snapshot(d)).toBe(before);
  });

  it('Ctrl-C (to the whole process group, as a terminal sends it) while the bucket is made: flyctl is not cut off, its credentials land in secrets.env, exit 130', async () => {
    const d = await deployed();
    const dir = tempDir('clawdfly-ctrlc-');
    const [started, go, wrapper] = ['started', 'go', 'flyctl'].map((n) => join(dir, n)) as [string, string, string];
    // a flyctl that holds `storage create` until the test says go (the double's flyctl is next on PATH)
    writeFileSync(wrapper, `#!/bin/sh\nif [ "$1 $2" = "storage create" ]; then : > '${started}'; while [ ! -e '${go}' ]; do sleep 0.05; done; fi\nexec flyctl "$@"\n`, { mode: 0o755 });
    const child = spawn(process.execPath, [BIN, 'backup', 'schedule', '--every', '1h', '--yes', '--dir', d.dir, '--flyctl', wrapper], {
      env: { ...process.env, ...d.fake.env, NO_COLOR: '1', CI: 'true' },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const until = async (what: () => boolean) => {
      while (!what()) await new Promise((r) => setTimeout(r, 20));
    };
    await until(() => existsSync(started));
    process.kill(-child.pid!, 'SIGINT');
    await until(() => stderr.includes('finishing the set-up first'));
    writeFileSync(go, '');
    expect(await exited).toBe(130);
    const secrets = secretsEnv(d);
    const fake = d.fake as unknown as { buckets(): Record<string, { accessKeyId: string }> };
    expect(fake.buckets()[`${APP}-backups`]!.accessKeyId).toBe(secrets['AWS_ACCESS_KEY_ID']);
    expect(secrets['CLAWDFLY_BACKUP_KEY']).toBeTruthy();
    expect(readFileSync(join(d.dir, 'fly.toml'), 'utf8')).toMatch(/CLAWDFLY_OFFSITE_EVERY = "1h"/);
    expect(stderr).toMatch(/interrupted after the set-up finished/);
    assertNoSecrets(stdout + stderr, projectSecrets(d.dir), 'the interrupted schedule');
  }, 60_000);

  it('refuses an app that is not on Fly yet, and a project without fly.toml (exit 2, nothing made)', async () => {
    const fake = createFakeFly();
    live.push(fake);
    const dir = await initProject(['--runtime', 'openclaw']);
    const before = readFileSync(join(dir, 'fly.toml'), 'utf8');
    const r = await runCli(['backup', 'schedule', '--every', '1h', '--yes', '--dir', dir], { env: fake.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/does not exist on Fly yet/);
    expect(r.stderr).toMatch(/→ clawdfly deploy/);
    expect(readFileSync(join(dir, 'fly.toml'), 'utf8')).toBe(before);
    expect(fake.invocations().some((i: { argv: string[] }) => i.argv[0] === 'storage' || i.argv[0] === 'secrets' && i.argv[1] !== 'list')).toBe(false);
    const none = await runCli(['backup', 'schedule', '--every', '1h', '--dir', join(dir, 'nowhere')], { env: fake.env });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no fly\.toml/);
  });

  it('refuses when the app has a bucket already (made elsewhere): exit 2, the fix, nothing written here', async () => {
    const d = await deployed();
    // another computer made it: the credentials went to its secrets.env, and Fly set them on the app
    expect(flyctl(d, ['storage', 'create', '-n', 'elsewhere', '-y', '-a', APP]).status).toBe(0);
    const before = snapshot(d);
    const r = await d.cli(['backup', 'schedule', '--every', '1h', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('  →'))).toHaveLength(1);
    expect(r.stderr).toMatch(/already has the secrets AWS_ACCESS_KEY_ID/);
    expect(r.stderr).toMatch(/→ copy \.clawdfly\/secrets\.env from the computer that ran clawdfly backup schedule/);
    expect(snapshot(d)).toBe(before);
    expect(d.fake.invocations().filter((i) => i.argv[0] === 'storage')).toHaveLength(1);
  });

  it('a bucket Fly refuses ("already exists for app"), and a failed storage create: one line, nothing written here', async () => {
    const d = await deployed();
    // the bucket exists, its secrets were removed from the app since: the pre-check passes, Fly refuses
    expect(flyctl(d, ['storage', 'create', '-n', 'elsewhere', '-y', '-a', APP]).status).toBe(0);
    expect(flyctl(d, ['secrets', 'unset', ...STORAGE_NAMES, '-a', APP, '--stage']).status).toBe(0);
    const before = snapshot(d);
    const r = await d.cli(['backup', 'schedule', '--every', '1h', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already has a Tigris bucket \(elsewhere\)/);
    expect(r.stderr).toMatch(/→ .*fly storage destroy elsewhere -a test-claw/);
    expect(snapshot(d)).toBe(before);

    const e = await deployed();
    const beforeE = snapshot(e);
    const failed = await e.cli(['backup', 'schedule', '--every', '1h', '--yes'], { FAKEFLY_FAIL: 'storage create' });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/fly storage create failed: .*i\/o timeout/);
    expect(snapshot(e)).toBe(beforeE);
  });

  it('deploy puts the key back on an app that lacks it (a new app, or the secret removed)', async () => {
    const d = await deployed();
    expect((await d.cli(['backup', 'schedule', '--every', '1h', '--yes'])).code).toBe(0);
    expect(flyctl(d, ['secrets', 'unset', 'CLAWDFLY_BACKUP_KEY', '-a', APP, '--stage']).status).toBe(0);
    const r = await d.cli(['deploy', '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const secretsStep = (JSON.parse(r.stdout) as { steps: { id: string; action: string; stdin?: string[]; reason: string }[] }).steps.find((s) => s.id === 'secrets')!;
    expect(secretsStep.action).toBe('set');
    expect(secretsStep.stdin).toContain('CLAWDFLY_BACKUP_KEY=***');
    expect(secretsStep.reason).toMatch(/CLAWDFLY_BACKUP_KEY missing/);
  });
});

describe('fakefly: storage create (flyctl-day2.md §9)', () => {
  it('refuses without --yes and without -n, allows one bucket per app, prints the credentials and deploys them at once', async () => {
    const d = await deployed();
    const noYes = flyctl(d, ['storage', 'create', '-n', 'b1', '-a', APP]);
    expect(noYes.status).toBe(1);
    expect(noYes.stderr).toMatch(/To agree, the --yes flag must be specified when not running interactively/);
    const noName = flyctl(d, ['storage', 'create', '-y', '-a', APP]);
    expect(noName.status).toBe(1);
    const restarts = d.fake.restarts();
    const ok = flyctl(d, ['storage', 'create', '-n', 'b1', '-y', '-a', APP]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/Your Tigris project \(b1\) is ready/);
    expect(ok.stdout).toMatch(/Setting the following secrets on test-claw:\nAWS_ACCESS_KEY_ID: tid_\S+\nAWS_SECRET_ACCESS_KEY: tsec_\S+\nAWS_ENDPOINT_URL_S3: https:\/\/fly\.storage\.tigris\.dev\nAWS_REGION: auto\nBUCKET_NAME: b1\n/);
    // deployed at once: a restart-only deployment
    expect(d.fake.restarts()).toBe(restarts + 1);
    const twice = flyctl(d, ['storage', 'create', '-n', 'b2', '-y', '-a', APP]);
    expect(twice.status).toBe(1);
    expect(twice.stderr).toMatch(/A Tigris project named b1 already exists for app test-claw/);
  });
});

// ── On the machine: list and fetch through the image's uploader (a stand-in for offsite.mjs) ──

/** A stand-in for /app/offsite.mjs: `list --json` prints `copies`; `fetch <name> --to <path>` copies `archive` there. */
function plantUploader(d: Deployed, copies: unknown, archive?: string): void {
  const path = d.fake.machineFsPath(APP, d.machineId, '/app/offsite.mjs');
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(
    path,
    [
      "import fs from 'node:fs';",
      'const [cmd, name, flag, to] = process.argv.slice(2);',
      `if (cmd === 'list') { process.stdout.write(${JSON.stringify(JSON.stringify(copies))}); process.exit(0); }`,
      `if (cmd === 'fetch' && flag === '--to') { if (!${JSON.stringify(JSON.stringify(copies))}.includes(name)) { console.error('no such copy: ' + name); process.exit(4); } fs.copyFileSync(${JSON.stringify(archive ?? '')}, to); console.log('fetched ' + name); process.exit(0); }`,
      'process.exit(2);',
    ].join('\n'),
  );
  chmodSync(path, 0o755);
}

describe('backup list --remote', () => {
  it('lists the copies newest first, with names from the bucket passed through the output filter', async () => {
    const d = await deployed();
    expect((await d.cli(['backup', 'schedule', '--every', '1h', '--yes'])).code).toBe(0);
    plantUploader(d, [
      { name: '20261129T031500Z.tar.enc', size: 2048, time: '2026-11-29T03:15:00Z' },
      { name: '20261130T031500Z.tar.enc\u001b[2J', size: 4096, time: '2026-11-30T03:15:00Z' },
    ]);
    const r = await d.cli(['backup', 'list', '--remote']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l.includes('.tar.enc'));
    expect(lines[0]).toContain('20261130T031500Z.tar.enc\\u001b[2J');
    expect(lines[1]).toContain('20261129T031500Z.tar.enc');
    expect(r.stdout).not.toContain('\u001b');
    const ssh = d.fake.invocations().filter((i) => i.argv[0] === 'ssh').at(-1)!;
    expect(ssh.argv.join(' ')).toContain('/app/offsite.mjs');
    const json = await d.cli(['backup', 'list', '--remote', '--json']);
    expect(JSON.parse(json.stdout).copies.map((c: { size: number }) => c.size)).toEqual([4096, 2048]);
  });

  it('says what to do when the image has no uploader, and refuses a project with no schedule', async () => {
    const d = await deployed();
    const none = await d.cli(['backup', 'list', '--remote']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/→ clawdfly backup schedule (--dir \S+ )?--every 1h/);
    expect((await d.cli(['backup', 'schedule', '--every', '1h', '--yes'])).code).toBe(0);
    const r = await d.cli(['backup', 'list', '--remote']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has no off-site uploader/);
    expect(r.stderr).toMatch(/→ clawdfly deploy/);
    // the uploader's own words (one line on stderr), and the fix when the staged key is not on the machine yet
    const path = d.fake.machineFsPath(APP, d.machineId, '/app/offsite.mjs');
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, "process.stderr.write('[clawdfly] off-site: not set on the machine: CLAWDFLY_BACKUP_KEY\\n'); process.exit(1);\n");
    const staged = await d.cli(['backup', 'list', '--remote']);
    expect(staged.code).toBe(1);
    expect(staged.stderr).toMatch(/failed on test-claw's machine \(exit 1\): \[clawdfly\] off-site: not set on the machine: CLAWDFLY_BACKUP_KEY/);
    expect(staged.stderr).toMatch(/→ clawdfly deploy .*applies the staged key/);
  });
});
