/**
 * Ctrl-C (SIGINT to the real CLI process) and a kill at several points of `clawdfly upgrade`,
 * against the flyctl double with latency on the calls around the moment (FAKEFLY_LATENCY_MATCH),
 * none once the signal is sent (FAKEFLY_LATENCY_UNTIL). The moment is picked by polling the
 * double's recorded invocations (or the project's files), never by a fixed sleep. Each case ends
 * consistent on its own or on the next run: the local files, the release history and the machine's
 * image agree; a re-run of the upgrade goes through; and a later `rollback` still puts the old
 * gateway's files back from /data/.clawdfly-pre-upgrade-*.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startCli, type RunningCli } from '../support/running-cli.js';
import { ALL_OUTPUT, APP, allSecretValues, newProject, stopAppServer, type Invocation, type Project } from '../deploy/setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(stopAppServer);

/** The slow flyctl calls of the interrupted run wait this long first: wide windows to land a signal in. */
const LATENCY_MS = '700';
/** The calls after the copy on /data, up to and including the deploy (the machine still runs the old image). */
const BEFORE_THE_DEPLOY = '^(secrets |status |volumes list|ips list|deploy )';
/** The verification's calls once the new image is deployed. */
const AFTER_THE_DEPLOY = '^(logs |machines list)';

async function cli(p: Project, args: string[]): Promise<CliResult> {
  const r = await runCli([...args, '--dir', p.dir], { env: p.env, timeoutMs: 240_000 });
  ALL_OUTPUT.push(r.stdout, r.stderr);
  return r;
}

type MachineApi = { image_ref?: { labels?: Record<string, string> } };
const gatewayOf = (p: Project) => ((p.fake.machines(APP) as unknown as MachineApi[])[0]!.image_ref?.labels?.['fakefly.gateway']);
const read = (p: Project, file: string) => readFileSync(join(p.dir, file), 'utf8');
const runtimeOf = (p: Project) => JSON.parse(read(p, '.clawdfly/answers.json')).runtime as string;
const fsOf = (p: Project, rel: string) => p.fake.machineFsPath(APP, p.machineId(), `/data/${rel}`);
const snapshotsOnVolume = (p: Project) => readdirSync(fsOf(p, '')).filter((n) => n.startsWith('.clawdfly-pre-upgrade-'));
const journalPath = (p: Project) => join(p.dir, '.clawdfly', 'journal', 'upgrade.json');

const DATA_FILES: Record<string, string> = {
  'devices/paired.json': '{"dev-1":{"deviceId":"dev-1","role":"operator"}}\n',
  'credentials/whatsapp/default/creds.json': '{"me":"+15550000000"}\n',
};

async function deployedClawdbot(): Promise<Project> {
  const p = await newProject({ initFlags: ['--runtime', 'clawdbot'] });
  const first = await p.deploy(['--yes', '--json']);
  expect(first.code, first.stderr).toBe(0);
  for (const [rel, text] of Object.entries(DATA_FILES)) {
    mkdirSync(dirname(fsOf(p, rel)), { recursive: true });
    writeFileSync(fsOf(p, rel), text);
  }
  return p;
}

/**
 * Starts `upgrade --to openclaw --yes` with latency on the calls `slow` matches, and resolves once
 * `ready(calls since the start)` holds. signal() sends the signal, and the calls after it are fast.
 */
async function upgradeUntil(p: Project, slow: string, ready: (calls: Invocation[]) => boolean): Promise<RunningCli & { signal(sig: NodeJS.Signals): void }> {
  const mark = p.fake.invocations().length;
  const signalSent = join(dirname(p.dir), 'signal-sent');
  rmSync(signalSent, { force: true });
  const run = startCli(['upgrade', '--to', 'openclaw', '--yes', '--dir', p.dir], { ...p.env, FAKEFLY_LATENCY_MS: LATENCY_MS, FAKEFLY_LATENCY_MATCH: slow, FAKEFLY_LATENCY_UNTIL: signalSent });
  let exited = false;
  void run.exited.then(() => (exited = true));
  const deadline = Date.now() + 180_000;
  while (!ready(p.since(mark))) {
    if (exited || Date.now() > deadline) throw new Error(`the moment never came\n${run.stdout()}\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Object.assign(run, {
    signal(sig: NodeJS.Signals) {
      run.child.kill(sig);
      writeFileSync(signalSent, '');
    },
  });
}

const isBackupCall = (i: Invocation) => i.argv[0] === 'ssh' && / backup \/data /.test(i.argv.join(' '));
/** The remote agent's `upgrade-snapshot` request (src/remote/agent-call.ts). */
const isSnapshotCall = (i: Invocation) => i.argv[0] === 'ssh' && i.argv.join(' ').includes('clawdfly agent') && i.argv.join(' ').includes(' upgrade-snapshot /data ');
const isDeploy = (i: Invocation) => i.argv[0] === 'deploy';

async function finishOut(run: RunningCli): Promise<{ code: number | null; text: string }> {
  const exit = await run.exitWithin(180_000);
  ALL_OUTPUT.push(run.stdout(), run.stderr());
  return { code: exit.code, text: run.stdout() + run.stderr() };
}

/** The old release, whole: clawdbot's files locally, clawdbot's image, the journal gone, no copy left on the volume. */
function expectOnClawdbot(p: Project): void {
  expect(runtimeOf(p)).toBe('clawdbot@2026.1.24-3');
  expect(existsSync(join(p.dir, 'clawdbot.json'))).toBe(true);
  expect(existsSync(join(p.dir, 'openclaw.json'))).toBe(false);
  expect(read(p, '.clawdfly/secrets.env')).toContain('CLAWDBOT_GATEWAY_TOKEN=');
  expect(read(p, '.clawdfly/secrets.env')).not.toContain('OPENCLAW_GATEWAY_TOKEN=');
  expect(gatewayOf(p)).toBe('clawdbot');
  expect(existsSync(journalPath(p))).toBe(false);
  expect(snapshotsOnVolume(p)).toEqual([]);
  for (const [rel, text] of Object.entries(DATA_FILES)) expect(readFileSync(fsOf(p, rel), 'utf8'), rel).toBe(text);
}

/** The re-run goes through, then a rollback puts clawdbot's files back from the one snapshot on /data. */
async function rerunThenRollback(p: Project, rerun: string[] = ['upgrade', '--to', 'openclaw', '--yes']): Promise<void> {
  const again = await cli(p, rerun);
  expect(again.code, again.stdout + again.stderr).toBe(0);
  expect(runtimeOf(p)).toBe('openclaw@2026.9.6');
  expect(gatewayOf(p)).toBe('openclaw');
  expect(existsSync(journalPath(p))).toBe(false);
  expect(snapshotsOnVolume(p)).toHaveLength(1);
  const history = JSON.parse(read(p, '.clawdfly/releases.json')).releases;
  expect(history.at(-1)).toMatchObject({ kind: 'upgrade', runtime: 'openclaw@2026.9.6', stateSnapshot: `/data/${snapshotsOnVolume(p)[0]}` });
  // what openclaw's first start does to clawdbot's files: they must come back from the snapshot
  writeFileSync(fsOf(p, 'devices/paired.json'), '{"migrated":true}\n');
  const back = await cli(p, ['rollback', '--yes']);
  expect(back.code, back.stdout + back.stderr).toBe(0);
  expectOnClawdbot(p);
  for (const out of ALL_OUTPUT) for (const secret of allSecretValues()) expect(out).not.toContain(secret);
}

describe('upgrade interrupted', () => {
  it('Ctrl-C during the backup: exit 130, nothing changed, no journal; the re-run upgrades and rollback still works', async () => {
    const p = await deployedClawdbot();
    // the call before the backup (the first-start probe) is recorded: the backup stream is in flight
    const run = await upgradeUntil(p, ' backup /data ', (calls) => calls.some((i) => i.argv[0] === 'ssh' && !isBackupCall(i)) && !calls.some(isBackupCall));
    run.signal('SIGINT');
    const r = await finishOut(run);
    expect(r.code, r.text).toBe(130);
    expect(r.text).toContain('nothing was upgraded');
    expectOnClawdbot(p);
    const backupsDir = join(p.dir, '.clawdfly', 'backups');
    expect(existsSync(backupsDir) ? readdirSync(backupsDir).filter((f) => f.includes('.partial-')) : []).toEqual([]);
    await rerunThenRollback(p);
  }, 600_000);

  it('Ctrl-C after the copy on /data, before the new image: exit 130, local files back, the copy removed', async () => {
    const p = await deployedClawdbot();
    const run = await upgradeUntil(p, BEFORE_THE_DEPLOY, (calls) => calls.some(isSnapshotCall));
    run.signal('SIGINT');
    const r = await finishOut(run);
    expect(r.code, r.text).toBe(130);
    expect(r.text).toContain('interrupted before its image was deployed');
    expectOnClawdbot(p);
    await rerunThenRollback(p);
  }, 600_000);

  it('Ctrl-C after the new image is deployed: exit 130, rolled back to the old image, files and /data', async () => {
    const p = await deployedClawdbot();
    const run = await upgradeUntil(p, AFTER_THE_DEPLOY, (calls) => calls.some(isDeploy));
    expect(gatewayOf(p)).toBe('openclaw');
    run.signal('SIGINT');
    const r = await finishOut(run);
    expect(r.code, r.text).toBe(130);
    expect(r.text).toContain('rolled back automatically');
    expectOnClawdbot(p);
    await rerunThenRollback(p);
  }, 600_000);

  it('killed after the local files changed (a crash): status and doctor say so; the next upgrade returns, then upgrades', async () => {
    const p = await deployedClawdbot();
    // the local files are openclaw's, the machine still runs clawdbot
    const run = await upgradeUntil(p, BEFORE_THE_DEPLOY, () => existsSync(join(p.dir, 'openclaw.json')) && runtimeOf(p).startsWith('openclaw'));
    run.signal('SIGKILL');
    await run.exitWithin(30_000);
    expect(gatewayOf(p)).toBe('clawdbot');
    expect(existsSync(journalPath(p))).toBe(true);
    expect(statSync(journalPath(p)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(p.dir, '.clawdfly', 'journal', '.gitignore'), 'utf8')).toContain('*');

    const status = await cli(p, ['status', '--json']);
    const s = JSON.parse(status.stdout);
    expect(s.ok).toBe(false);
    expect(s.interruptedUpgrade).toMatchObject({ from: 'clawdbot@2026.1.24-3', to: 'openclaw@2026.9.6' });
    expect(s.interruptedUpgrade.next).toContain('clawdfly upgrade --to openclaw@2026.9.6');
    const doctor = await cli(p, ['doctor', '--json']);
    const upgradeCheck = JSON.parse(doctor.stdout).checks.find((c: { id: string }) => c.id === 'upgrade');
    expect(upgradeCheck).toMatchObject({ status: 'fail' });
    expect(upgradeCheck.fix).toContain('clawdfly upgrade --to openclaw@2026.9.6');

    // a plain re-run no longer says "already on openclaw": it returns first, then upgrades
    const again = await cli(p, ['upgrade', '--to', 'openclaw', '--yes']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout + again.stderr).toContain('was interrupted: first, back to release');
    expect(again.stdout + again.stderr).not.toContain('nothing to upgrade');
    expect(gatewayOf(p)).toBe('openclaw');
    expect(snapshotsOnVolume(p)).toHaveLength(1);
    writeFileSync(fsOf(p, 'devices/paired.json'), '{"migrated":true}\n');
    const back = await cli(p, ['rollback', '--yes']);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expectOnClawdbot(p);
  }, 600_000);

  it('killed after the local files changed: the next deploy returns to the old release first, not a plain deploy of half an upgrade', async () => {
    const p = await deployedClawdbot();
    const run = await upgradeUntil(p, BEFORE_THE_DEPLOY, () => existsSync(join(p.dir, 'openclaw.json')) && runtimeOf(p).startsWith('openclaw'));
    run.signal('SIGKILL');
    await run.exitWithin(30_000);
    const deploy = await p.deploy(['--yes']);
    expect(deploy.code, deploy.stdout + deploy.stderr).toBe(0);
    expect(deploy.stdout + deploy.stderr).toContain('was interrupted: first, back to release');
    expectOnClawdbot(p);
    await rerunThenRollback(p);
  }, 600_000);

  it('killed after the new image is deployed: rollback sees the journal and returns to the old release', async () => {
    const p = await deployedClawdbot();
    const run = await upgradeUntil(p, AFTER_THE_DEPLOY, (calls) => calls.some(isDeploy));
    run.signal('SIGKILL');
    await run.exitWithin(30_000);
    expect(gatewayOf(p)).toBe('openclaw');
    const back = await cli(p, ['rollback', '--yes']);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(back.stdout + back.stderr).toContain('was interrupted: first, back to release');
    expectOnClawdbot(p);
    // and a deploy afterwards changes nothing: what runs is what the project says
    const steady = await p.deploy(['--yes', '--json']);
    expect(steady.code, steady.stderr).toBe(0);
    expect(JSON.parse(steady.stdout).changes).toEqual([]);
  }, 600_000);
});
