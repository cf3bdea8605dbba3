/**
 * `clawdfly upgrade` against the flyctl double, on a deployed clawdbot app: the machine ends on a
 * new image that runs openclaw (the double's image knows its gateway from runtime/package.json and
 * logs that gateway's own listening line), /data is intact, the config is on /data under
 * openclaw's name, and `rollback` puts the exact pre-upgrade image ref and command back. A dry run
 * and every refusal change nothing; a new gateway that never listens is rolled back by itself.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { ciSpecFlags } from '../helpers/clawdfly-pack.js';
import { ALL_OUTPUT, APP, allSecretValues, mutations, newProject, type Project } from '../deploy/setup.js';
import { stopAppServer } from '../deploy/setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(stopAppServer);

async function cli(p: Project, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await runCli([...args, '--dir', p.dir], { env: { ...p.env, ...env }, timeoutMs: 180_000 });
  ALL_OUTPUT.push(r.stdout, r.stderr);
  return r;
}

type MachineApi = { id: string; image_ref?: unknown; config: { image?: string; init?: { cmd?: string[] }; env?: Record<string, string> } };

function machine(p: Project): MachineApi {
  return (p.fake.machines(APP) as unknown as MachineApi[])[0]!;
}

function read(p: Project, file: string): string {
  return readFileSync(join(p.dir, file), 'utf8');
}

function localFiles(p: Project): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of ['fly.toml', 'Dockerfile', 'clawdbot.json', 'openclaw.json', 'runtime/package.json', 'runtime/package-lock.json', '.clawdfly/answers.json', '.clawdfly/secrets.env', '.clawdfly/written.json']) {
    if (existsSync(join(p.dir, f))) files[f] = read(p, f);
  }
  return files;
}

/** Files a gateway keeps on the volume, written before the upgrade: they must come through untouched. */
const DATA_FILES: Record<string, string> = {
  'agents/main/sessions/sessions.json': '{"agent:main:main":{"sessionId":"s-1"}}\n',
  'agents/main/sessions/s-1.jsonl': '{"type":"message","text":"hello"}\n',
  'devices/paired.json': '{"dev-1":{"deviceId":"dev-1","role":"operator"}}\n',
  'credentials/whatsapp/default/creds.json': '{"me":"+15550000000"}\n',
  'workspace/MEMORY.md': '# remembered\n',
};

function writeData(p: Project): void {
  for (const [rel, text] of Object.entries(DATA_FILES)) {
    const abs = p.fake.machineFsPath(APP, p.machineId(), `/data/${rel}`);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, text);
  }
}

function dataFile(p: Project, rel: string): string | undefined {
  const abs = p.fake.machineFsPath(APP, p.machineId(), `/data/${rel}`);
  return existsSync(abs) ? readFileSync(abs, 'utf8') : undefined;
}

function backups(p: Project): string[] {
  const dir = join(p.dir, '.clawdfly', 'backups');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.tar.gz')) : [];
}

async function deployedClawdbot(initFlags: string[] = []): Promise<Project> {
  const p = await newProject({ initFlags });
  const first = await p.deploy(['--yes', '--json']);
  expect(first.code, first.stderr).toBe(0);
  writeData(p);
  return p;
}

describe('clawdfly upgrade', () => {
  it('clawdbot → openclaw: new image running openclaw, /data intact, config under its new name; rollback restores the exact image and command', async () => {
    // with a CI workflow: it names the gateway token's secret, so it changes with the runtime and comes back on rollback
    const p = await deployedClawdbot(['--github-actions', ...ciSpecFlags()]);
    const workflow = '.github/workflows/deploy.yml';
    const before = { image: machine(p).image_ref, imageName: machine(p).config.image, cmd: machine(p).config.init?.cmd, files: localFiles(p), remote: p.remoteConfig()!, workflow: read(p, workflow) };
    expect(before.workflow).toContain('CLAWDBOT_GATEWAY_TOKEN: ${{ secrets.CLAWDBOT_GATEWAY_TOKEN }}');
    const token = /CLAWDBOT_GATEWAY_TOKEN="([^"]+)"/.exec(before.files['.clawdfly/secrets.env']!)![1]!;

    // --dry-run: the whole plan, and no change anywhere
    let mark = p.fake.invocations().length;
    const dry = await cli(p, ['upgrade', '--to', 'openclaw', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    const text = dry.stdout + dry.stderr;
    expect(text).toContain('clawdbot@2026.1.24-3 → openclaw@2026.9.6');
    expect(text).toMatch(/create\s+openclaw\.json/);
    expect(text).toMatch(/delete\s+clawdbot\.json/);
    expect(text).toContain('+  OPENCLAW_STATE_DIR = "/data"');
    expect(text).toContain('-  CLAWDBOT_STATE_DIR = "/data"');
    expect(text).toContain('+FROM node:24-bookworm-slim');
    expect(text).toContain('CLAWDBOT_GATEWAY_TOKEN renamed OPENCLAW_GATEWAY_TOKEN');
    expect(text).toContain('OPENCLAW_GATEWAY_TOKEN=***');
    expect(text).toMatch(/backup .*\/data/);
    const dryJson = await cli(p, ['upgrade', '--to', 'openclaw', '--dry-run', '--json']);
    expect(dryJson.code, dryJson.stderr).toBe(0);
    const plan = JSON.parse(dryJson.stdout);
    expect(plan).toMatchObject({ dryRun: true, from: { runtime: 'clawdbot@2026.1.24-3' }, to: { runtime: 'openclaw@2026.9.6' }, secrets: [{ from: 'CLAWDBOT_GATEWAY_TOKEN', to: 'OPENCLAW_GATEWAY_TOKEN' }] });
    expect(plan.files).toEqual(expect.arrayContaining([{ path: 'fly.toml', change: 'update' }, { path: 'openclaw.json', change: 'create' }, { path: 'clawdbot.json', change: 'delete' }, { path: 'runtime/package.json', change: 'update' }]));
    expect(plan.remote.map((s: { step: string }) => s.step)).toEqual(['backup', 'state', 'secrets', 'deploy', 'config', 'verify', 'on failure']);
    expect(mutations(p.since(mark))).toEqual([]);
    expect(localFiles(p)).toEqual(before.files);
    expect(backups(p)).toEqual([]);

    // the upgrade
    mark = p.fake.invocations().length;
    const r = await cli(p, ['upgrade', '--to', 'openclaw', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const done = JSON.parse(r.stdout);
    expect(done).toMatchObject({ ok: true, to: { runtime: 'openclaw@2026.9.6' }, config: '/data/openclaw.json' });
    const calls = p.since(mark);
    // the backup streamed before anything was set or deployed
    const firstWrite = calls.findIndex((i) => ['secrets', 'deploy'].includes(i.argv[0]!));
    const backupCall = calls.findIndex((i) => i.argv[0] === 'ssh' && i.argv.join(' ').includes('clawdfly agent') && / backup \/data /.test(i.argv.join(' ')));
    expect(backupCall).toBeGreaterThanOrEqual(0);
    expect(backupCall).toBeLessThan(firstWrite);
    expect(backups(p)).toHaveLength(1);
    // the new image runs openclaw with the new names
    const m = machine(p);
    expect(m.image_ref).not.toEqual(before.image);
    expect((m.image_ref as { labels: Record<string, string> }).labels['fakefly.gateway']).toBe('openclaw');
    expect(m.config.init?.cmd?.slice(0, 3)).toEqual(['node', 'dist/index.js', 'gateway']);
    expect(m.config.env?.['OPENCLAW_STATE_DIR']).toBe('/data');
    expect(m.config.env?.['CLAWDBOT_STATE_DIR']).toBeUndefined();
    expect(read(p, 'Dockerfile')).toContain('FROM node:24-bookworm-slim');
    expect(JSON.parse(read(p, 'runtime/package.json')).dependencies).toEqual({ openclaw: '2026.9.6' });
    expect(existsSync(join(p.dir, 'clawdbot.json'))).toBe(false);
    expect(JSON.parse(read(p, '.clawdfly/answers.json')).runtime).toBe('openclaw@2026.9.6');
    // the token: same value, new name, locally and on Fly (the old one stays for a rollback)
    const secretsEnv = read(p, '.clawdfly/secrets.env');
    expect(secretsEnv).toContain(`OPENCLAW_GATEWAY_TOKEN=${JSON.stringify(token)}`);
    expect(secretsEnv).not.toContain('CLAWDBOT_GATEWAY_TOKEN');
    expect(p.fake.secrets(APP)['OPENCLAW_GATEWAY_TOKEN']).toBe(token);
    expect(p.fake.secrets(APP)['CLAWDBOT_GATEWAY_TOKEN']).toBe(token);
    // /data: every file intact; the config under openclaw's name, in openclaw's shape; the old one kept
    for (const [rel, text] of Object.entries(DATA_FILES)) expect(dataFile(p, rel), rel).toBe(text);
    const remoteNew = JSON.parse(dataFile(p, 'openclaw.json')!);
    expect(remoteNew.agents.entries).toEqual({ main: {} });
    expect(remoteNew.agents.list).toBeUndefined();
    expect(remoteNew.agents.defaults).toEqual(JSON.parse(before.remote).agents.defaults);
    // OpenClaw accepts Control UI browsers only from allowed origins: the app's own URL is one
    expect(remoteNew.gateway.controlUi.allowedOrigins).toEqual([`https://${APP}.fly.dev`]);
    expect(JSON.parse(read(p, 'openclaw.json'))).toEqual(remoteNew);
    expect(dataFile(p, 'clawdbot.json')).toBe(before.remote);
    // the release history marks the runtime change
    const history = JSON.parse(read(p, '.clawdfly/releases.json')).releases;
    expect(history.at(-1)).toMatchObject({ kind: 'upgrade', runtime: 'openclaw@2026.9.6', upgradedFrom: 'clawdbot@2026.1.24-3' });
    expect(history.at(-1).backup).toMatch(/^\.clawdfly\/backups\/.+\.tar\.gz$/);

    // The double runs no real openclaw: do to /data what openclaw 2026.9.6's first start does
    // (FINDINGS-openclaw-migration.md §1): paired devices renamed *.migrated, sessions moved into an archive, a SQLite store.
    const upgradeRecord = history.at(-1);
    expect(upgradeRecord.stateSnapshot).toMatch(/^\/data\/\.clawdfly-pre-upgrade-[A-Za-z0-9]+$/);
    const fsOf = (rel: string) => p.fake.machineFsPath(APP, p.machineId(), `/data/${rel}`);
    // The files kept for the way back are copies: openclaw 2026.9.6 refuses a file with a second
    // link ("FsSafeError: hardlinked path not allowed") and then fails its first start.
    const dataRoot = fsOf('');
    const linked = (readdirSync(dataRoot, { recursive: true }) as string[]).filter((rel) => {
      const st = lstatSync(join(dataRoot, rel));
      return st.isFile() && st.nlink > 1;
    });
    expect(linked).toEqual([]);
    expect(readFileSync(join(fsOf(upgradeRecord.stateSnapshot.slice('/data/'.length)), 'devices', 'paired.json'), 'utf8')).toBe(DATA_FILES['devices/paired.json']);
    renameSync(fsOf('devices/paired.json'), fsOf('devices/paired.json.migrated'));
    mkdirSync(fsOf('agents/main/session-sqlite-import-archive'), { recursive: true });
    renameSync(fsOf('agents/main/sessions/sessions.json'), fsOf('agents/main/session-sqlite-import-archive/legacy-store.sessions.json.imported-1'));
    renameSync(fsOf('agents/main/sessions/s-1.jsonl'), fsOf('agents/main/session-sqlite-import-archive/agent_main_main.s-1.jsonl.imported-1'));
    mkdirSync(fsOf('state'), { recursive: true });
    writeFileSync(fsOf('state/openclaw.sqlite'), 'SQLite format 3\0');

    expect(read(p, workflow)).toContain('# Deploys the OpenClaw gateway');
    expect(read(p, workflow)).toContain('OPENCLAW_GATEWAY_TOKEN: ${{ secrets.OPENCLAW_GATEWAY_TOKEN }}');
    expect(read(p, workflow)).not.toContain('CLAWDBOT_');
    // what runs is what the project says: deploy sees nothing to do (no rebuild, no secret re-staged)
    const steady = await p.deploy(['--yes', '--json']);
    expect(steady.code, steady.stderr).toBe(0);
    expect(JSON.parse(steady.stdout).changes).toEqual([]);
    const status = await cli(p, ['status', '--json']);
    expect(JSON.parse(status.stdout).releases.current).toMatchObject({ kind: 'upgrade', upgradedFrom: 'clawdbot@2026.1.24-3', running: true });

    // again: already there, nothing done
    mark = p.fake.invocations().length;
    const again = await cli(p, ['upgrade', '--to', 'openclaw', '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).toContain('already on openclaw@2026.9.6');
    expect(p.since(mark)).toEqual([]);

    // rollback: the exact pre-upgrade image ref and command, the clawdbot files and token name
    const back = await cli(p, ['rollback', '--yes', '--json']);
    expect(back.code, back.stderr).toBe(0);
    const after = machine(p);
    expect(after.image_ref).toEqual(before.image);
    expect(after.config.image).toBe(`registry.fly.io/${APP}@${(before.image as { digest: string }).digest}`); // the same image, deployed by its digest
    expect(after.config.init?.cmd).toEqual(before.cmd);
    expect(after.config.env?.['CLAWDBOT_STATE_DIR']).toBe('/data');
    expect(localFiles(p)['clawdbot.json']).toBe(before.files['clawdbot.json']);
    expect(existsSync(join(p.dir, 'openclaw.json'))).toBe(false);
    for (const f of ['fly.toml', 'Dockerfile', 'runtime/package.json', '.clawdfly/answers.json']) expect(read(p, f), f).toBe(before.files[f]);
    expect(read(p, workflow)).toBe(before.workflow);
    expect(read(p, '.clawdfly/secrets.env')).toContain(`CLAWDBOT_GATEWAY_TOKEN=${JSON.stringify(token)}`);
    expect(JSON.parse(p.remoteConfig()!)).toEqual(JSON.parse(before.remote));
    // clawdbot's files are back where clawdbot reads them; openclaw's were set aside, then removed once
    // clawdbot was verified: the backup the rollback took first holds them
    for (const [rel, text] of Object.entries(DATA_FILES)) expect(dataFile(p, rel), rel).toBe(text);
    expect(dataFile(p, 'devices/paired.json.migrated')).toBeUndefined();
    expect(existsSync(fsOf(upgradeRecord.stateSnapshot.slice('/data/'.length)))).toBe(false);
    expect(readdirSync(fsOf('.')).filter((n) => n.startsWith('.clawdfly-'))).toEqual([]);
    expect(dataFile(p, 'state/openclaw.sqlite')).toBeUndefined();
    const rollbackBackup = JSON.parse(back.stdout).backup as string;
    const members = execFileSync('tar', ['-tzf', rollbackBackup], { encoding: 'utf8' }).split('\n');
    expect(members).toContain('state/openclaw.sqlite');
    expect(members).toContain('agents/main/session-sqlite-import-archive/legacy-store.sessions.json.imported-1');
    // and what runs is what the project says: the next deploy changes nothing
    const redeploy = await p.deploy(['--yes', '--json']);
    expect(redeploy.code, redeploy.stderr).toBe(0);
    expect(JSON.parse(redeploy.stdout).changes).toEqual([]);

    for (const out of ALL_OUTPUT) for (const secret of allSecretValues()) expect(out).not.toContain(secret);
  }, 400_000);

  it('refusals: unknown --to, a downgrade, no terminal without --yes — exit 2, nothing written, no flyctl call', async () => {
    const p = await deployedClawdbot();
    const files = localFiles(p);
    const mark = p.fake.invocations().length;
    const unknown = await cli(p, ['upgrade', '--to', 'clawdbot@2099.1.1', '--yes']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown gateway runtime "clawdbot@2099.1.1"');
    expect(unknown.stderr).toContain('clawdbot@2026.1.24-3 (this project)');
    expect(unknown.stderr).toContain('openclaw@2026.9.6');
    const other = await cli(p, ['upgrade', '--to', 'nanobot', '--yes', '--json']);
    expect(other.code).toBe(2);
    const noYes = await cli(p, ['upgrade', '--to', 'openclaw']);
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toContain('--yes');
    const same = await cli(p, ['upgrade', '--to', 'clawdbot', '--yes']);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout + same.stderr).toContain('already on clawdbot@2026.1.24-3');
    expect(p.since(mark)).toEqual([]);
    expect(localFiles(p)).toEqual(files);
    expect(backups(p)).toEqual([]);
  }, 200_000);

  it("clawdbot's credential store on the volume: the plan says the first start imports it, the wait grows, and the upgrade goes through", async () => {
    const p = await deployedClawdbot();
    // openclaw 2026.9.6 will not start until `openclaw doctor --fix` imported it (FINDINGS-openclaw-migration.md §2):
    // the OpenClaw image's entrypoint runs that once before the gateway (proven on the real image, test/image/)
    const store = p.fake.machineFsPath(APP, p.machineId(), '/data/agents/main/agent/auth-profiles.json');
    mkdirSync(dirname(store), { recursive: true });
    writeFileSync(store, '{"version":1,"profiles":{}}\n');

    let mark = p.fake.invocations().length;
    const dry = await cli(p, ['upgrade', '--to', 'openclaw', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    const text = dry.stdout + dry.stderr;
    expect(text).toContain("migrate    Clawdbot's credential store (made by `clawdbot onboard` / `models auth`) is on the volume (/data/agents/main/agent/auth-profiles.json)");
    expect(text).toContain('runs `openclaw doctor --fix --non-interactive --yes` once before the gateway\'s first start (about 2 min, at most 10;');
    // the usual wait (the suite's CLAWDFLY_VERIFY_TIMEOUT_MS), plus the entrypoint's own limit for the migration
    const usual = Number(p.env['CLAWDFLY_VERIFY_TIMEOUT_MS']) / 1000;
    expect(text).toMatch(new RegExp(`verify .* within ${usual + 600} s \\(the migration included\\)`));
    const dryJson = JSON.parse((await cli(p, ['upgrade', '--to', 'openclaw', '--dry-run', '--json'])).stdout);
    expect(dryJson.remote.map((st: { step: string }) => st.step)).toEqual(['backup', 'state', 'secrets', 'deploy', 'migrate', 'config', 'verify', 'on failure']);
    expect(dryJson.firstStartMigrations).toEqual([
      { path: '/data/agents/main/agent/auth-profiles.json', what: "Clawdbot's credential store (made by `clawdbot onboard` / `models auth`)", command: 'openclaw doctor --fix --non-interactive --yes', measuredSeconds: 120 },
    ]);
    expect(mutations(p.since(mark))).toEqual([]);
    expect(existsSync(store)).toBe(true);

    mark = p.fake.invocations().length;
    const r = await cli(p, ['upgrade', '--to', 'openclaw', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toContain("Clawdbot's credential store (made by `clawdbot onboard` / `models auth`): imported by `openclaw doctor --fix --non-interactive --yes` at the first start (/data/agents/main/agent/auth-profiles.json renamed *.migrated-*)");
    expect(out).not.toContain('still on the volume');
    expect(existsSync(store)).toBe(false);
    expect(readdirSync(dirname(store)).filter((f) => /^auth-profiles\.json\.migrated-/.test(f))).toHaveLength(1);
    expect((machine(p).image_ref as { labels: Record<string, string> }).labels['fakefly.gateway']).toBe('openclaw');
    for (const o of ALL_OUTPUT) for (const secret of allSecretValues()) expect(o).not.toContain(secret);
  }, 300_000);

  it('openclaw listening, then failing its start (FINDINGS §2): not verified, rolled back by itself', async () => {
    const p = await deployedClawdbot();
    const before = { image: machine(p).image_ref, files: localFiles(p) };
    // the listening line and then nothing (its failure comes seconds later): not up until "[gateway] ready"
    const fake = p.fake as unknown as { failGatewayBoot(g: string, lines: string[]): void };
    fake.failGatewayBoot('openclaw', ['[gateway] http server listening (13 plugins: anthropic, browser; 13.2s)']);
    // it never reports ready: the whole verification window passes (a short one, the test-only knob; --verify-timeout's least is 10 s)
    const r = await cli(p, ['upgrade', '--to', 'openclaw', '--yes'], { CLAWDFLY_VERIFY_TIMEOUT_MS: '5000' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/did not report that it listens on 0.0.0.0:3000 within \d+ s/);
    expect(r.stderr).toContain('rolled back automatically');
    expect(machine(p).image_ref).toEqual(before.image);
    // and its failure line, once it shows, is the reason given
    fake.failGatewayBoot('openclaw', [
      '[gateway] http server listening (13 plugins: anthropic, browser; 13.2s)',
      'Gateway failed to start: Auth profile store /data/state/openclaw.sqlite requires legacy credential migration; affected providers: anthropic; run openclaw doctor --fix.',
    ]);
    const again = await cli(p, ['upgrade', '--to', 'openclaw', '--yes', '--verify-timeout', '30']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('the gateway crashed after starting');
    expect(again.stderr).toContain('rolled back automatically');
    expect(machine(p).image_ref).toEqual(before.image);
    expect(localFiles(p)['.clawdfly/answers.json']).toBe(before.files['.clawdfly/answers.json']);
  }, 300_000);

  it('a new gateway that never listens: rolled back by itself to the exact image, files and config; exit 1 says why', async () => {
    const p = await deployedClawdbot();
    const before = { image: machine(p).image_ref, cmd: machine(p).config.init?.cmd, files: localFiles(p), remote: p.remoteConfig()! };
    // openclaw refuses its config at boot (the double's openclaw image logs this instead of listening)
    (p.fake as unknown as { failGatewayBoot(g: string, lines: string[]): void }).failGatewayBoot('openclaw', ['Invalid config at /data/openclaw.json:\\n- agents.entries.main: Unrecognized key: "bogus"']);
    const r = await cli(p, ['upgrade', '--to', 'openclaw', '--yes', '--verify-timeout', '30']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('failed');
    expect(r.stderr).toContain('the gateway refused its config');
    expect(r.stderr).toContain('rolled back automatically');
    const m = machine(p);
    expect(m.image_ref).toEqual(before.image);
    expect(m.config.init?.cmd).toEqual(before.cmd);
    expect(m.config.env?.['CLAWDBOT_STATE_DIR']).toBe('/data');
    const files = localFiles(p);
    for (const f of ['fly.toml', 'Dockerfile', 'clawdbot.json', 'runtime/package.json', 'runtime/package-lock.json', '.clawdfly/answers.json', '.clawdfly/secrets.env']) expect(files[f], f).toBe(before.files[f]);
    expect(files['openclaw.json']).toBeUndefined();
    expect(JSON.parse(p.remoteConfig()!)).toEqual(JSON.parse(before.remote));
    for (const [rel, text] of Object.entries(DATA_FILES)) expect(dataFile(p, rel), rel).toBe(text);
    const history = JSON.parse(read(p, '.clawdfly/releases.json')).releases;
    expect(history.at(-1)).toMatchObject({ kind: 'rollback', runtime: 'clawdbot@2026.1.24-3' });
    for (const out of ALL_OUTPUT) for (const secret of allSecretValues()) expect(out).not.toContain(secret);
  }, 300_000);
});
