/**
 * `clawdfly restore` against the flyctl double on a machine whose image applies a restore at boot:
 * the project's own rendered runtime/prepare-data.mjs is put in the machine's /app, and the double
 * runs it at every boot as the image's entrypoint does (test/fakefly/README.md). /data belongs to the
 * gateway user, ssh runs as root, as on Fly.
 *
 * - the archive is staged, applied by the boot, confirmed: the restored tree, nothing left behind;
 * - --no-safety-backup: the replaced state stays on the volume (the only way back);
 * - the restart fails: the staged restore is taken back, the state unchanged;
 * - Ctrl-C during the upload and between the staging and the restart: exit 130, and the machine is
 *   either unchanged or restarted on the restored state and the restore confirmed; nothing is left
 *   for a later boot to apply or undo; the re-run restores.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Deployed } from '../config/setup.js';
import { startCli, type RunningCli } from '../support/running-cli.js';
import { asGateway, CREDS, gatewayWithState, notBackedUp, trackDeployments, tree } from './setup.js';

const live = trackDeployments();

const LATENCY_MS = '600';
/** The call in flight at each moment (a restore calls: machines list, the safety backup, the upload, the restart, …). */
const UPLOAD = ' restore /data ';
const RESTART = '^machines? restart ';

/** A deployed clawdbot project whose machine runs the image's boot step (prepare-data.mjs). */
async function project(): Promise<Deployed> {
  const d = await gatewayWithState(['--runtime', 'clawdbot']);
  live.push(d);
  copyFileSync(join(d.dir, 'runtime', 'prepare-data.mjs'), d.remotePath('/app/prepare-data.mjs'));
  return d;
}

async function backupFile(d: Deployed): Promise<string> {
  const r = await d.cli(['backup', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).file as string;
}

/** clawdfly's restore folders and marker on the volume. */
function restoreLeftovers(d: Deployed): string[] {
  return readdirSync(d.remotePath('/data')).filter((n) => /^\.(?:pre-restore-|failed-restore-|clawdfly-restore|clawdfly-staged-restore-)/.test(n));
}

type Invocation = { argv: string[] };
/** A call of the remote agent (src/remote/agent-call.ts) for `op`. */
const isArchiveCall = (op: string) => (i: Invocation) => i.argv[0] === 'ssh' && i.argv.join(' ').includes('clawdfly agent') && i.argv.join(' ').includes(` ${op} /data `);

type Interruptible = RunningCli & { signalSent: string };

/**
 * Starts the command with latency on the calls `slow` matches (the one in flight at the moment) and
 * resolves once `ready(calls since the start)` holds. The calls that start after interrupt() sent its signal have none (FAKEFLY_LATENCY_UNTIL): what the CLI
 * does after Ctrl-C runs at full speed.
 */
async function startUntil(d: Deployed, args: string[], slow: string, ready: (calls: Invocation[]) => boolean): Promise<Interruptible> {
  const mark = d.fake.invocations().length;
  const signalSent = join(dirname(d.dir), 'signal-sent');
  rmSync(signalSent, { force: true });
  const run = startCli([...args, '--dir', d.dir], { ...d.env, FAKEFLY_LATENCY_MS: LATENCY_MS, FAKEFLY_LATENCY_MATCH: slow, FAKEFLY_LATENCY_UNTIL: signalSent });
  let exited = false;
  void run.exited.then(() => (exited = true));
  const deadline = Date.now() + 120_000;
  while (!ready(d.fake.invocations().slice(mark) as Invocation[])) {
    if (exited || Date.now() > deadline) throw new Error(`the moment never came\n${run.stdout()}\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 40));
  }
  return Object.assign(run, { signalSent });
}

async function interrupt(run: Interruptible): Promise<{ code: number | null; text: string }> {
  run.child.kill('SIGINT');
  writeFileSync(run.signalSent, '');
  const exit = await run.exitWithin(120_000);
  return { code: exit.code, text: run.stdout() + run.stderr() };
}

describe('restore on an image that applies it at boot (the double runs prepare-data.mjs)', () => {
  it('stages the archive, the boot applies it, clawdfly confirms: the restored tree and nothing left behind', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const file = await backupFile(d);
    const expected = tree(data, notBackedUp);
    asGateway(data, CREDS, '{"changed":true}', 0o600);
    const restarts = d.fake.restarts(d.machineId);

    const r = await d.cli(['restore', file, '--yes']);
    const text = r.stdout + r.stderr;
    expect(r.code, text).toBe(0);
    expect(text).toContain('applied before the gateway started');
    expect(text).not.toContain('cannot apply a restore before its gateway starts');
    expect(d.fake.restarts(d.machineId)).toBe(restarts + 1);
    expect(tree(data, notBackedUp)).toEqual(expected);
    expect(restoreLeftovers(d)).toEqual([]);
  }, 240_000);

  it('--no-safety-backup: restored, and the replaced state stays on the volume', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const file = await backupFile(d);
    const expected = tree(data, notBackedUp);
    asGateway(data, CREDS, '{"changed":true}', 0o600);

    const r = await d.cli(['restore', file, '--no-safety-backup', '--yes', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { previousBackup: string | null; previousOnVolume: string | null; appliedAtBoot: boolean };
    expect(report).toMatchObject({ previousBackup: null, appliedAtBoot: true });
    expect(report.previousOnVolume).toMatch(/^\/data\/\.pre-restore-[0-9TZ]+-[A-Za-z0-9]+$/);
    expect(tree(data, notBackedUp)).toEqual(expected);
    expect(readFileSync(d.remotePath(`${report.previousOnVolume}/${CREDS}`), 'utf8')).toBe('{"changed":true}');
    expect(restoreLeftovers(d)).toEqual([report.previousOnVolume!.slice('/data/'.length)]);
  }, 240_000);

  it('a restart that fails takes the staged restore back: the state is unchanged, nothing is left for a later boot', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const file = await backupFile(d);
    asGateway(data, CREDS, '{"changed":true}', 0o600);
    const changed = tree(data);

    const r = await d.cli(['restore', file, '--yes'], { FAKEFLY_FAIL: 'machine restart' });
    const text = r.stdout + r.stderr;
    expect(r.code, text).toBe(1);
    expect(text).toContain('the restore was taken back');
    expect(tree(data)).toEqual(changed);
    expect(restoreLeftovers(d)).toEqual([]);
  }, 240_000);
});

describe('Ctrl-C during a restore applied at boot', () => {
  it('during the upload: exit 130; either nothing changed or the machine was restarted on the restored state and the restore confirmed; the re-run restores', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const file = await backupFile(d);
    const expected = tree(data, notBackedUp);
    asGateway(data, CREDS, '{"changed":true}', 0o600);
    const changed = tree(data);
    const restarts = d.fake.restarts(d.machineId);
    // the safety backup is recorded: the upload is the call in flight
    const run = await startUntil(d, ['restore', file, '--yes'], UPLOAD, (calls) => calls.some(isArchiveCall('backup')));
    const r = await interrupt(run);
    expect(r.code, r.text).toBe(130);
    if (/interrupted before the swap/.test(r.text)) {
      expect(tree(data)).toEqual(changed);
      expect(d.fake.restarts(d.machineId)).toBe(restarts);
    } else {
      expect(r.text).toContain('interrupted after the swap');
      expect(tree(data, notBackedUp)).toEqual(expected);
      expect(d.fake.restarts(d.machineId)).toBe(restarts + 1);
    }
    expect(restoreLeftovers(d)).toEqual([]);
    const again = await d.cli(['restore', file, '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(tree(data, notBackedUp)).toEqual(expected);
    expect(restoreLeftovers(d)).toEqual([]);
  }, 240_000);

  it('between the staging and the restart: the machine is still restarted, the boot applies it and clawdfly confirms, exit 130', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const file = await backupFile(d);
    const expected = tree(data, notBackedUp);
    asGateway(data, CREDS, '{"changed":true}', 0o600);
    const restarts = d.fake.restarts(d.machineId);
    // the upload-and-stage call is recorded: the restart is the call in flight
    const run = await startUntil(d, ['restore', file, '--yes'], RESTART, (calls) => calls.some(isArchiveCall('restore')));
    const r = await interrupt(run);
    expect(r.code, r.text).toBe(130);
    expect(r.text).toContain('interrupted after the swap');
    expect(r.text).toContain('was restarted and runs on the restored state');
    expect(d.fake.restarts(d.machineId)).toBe(restarts + 1);
    expect(tree(data, notBackedUp)).toEqual(expected);
    // confirmed: no marker a later boot would act on, no staged or replaced tree
    expect(restoreLeftovers(d)).toEqual([]);
    expect(existsSync(join(data, '.clawdfly-restore.json'))).toBe(false);
  }, 240_000);
});
