/**
 * What a restore cannot bring back, and Ctrl-C at several points of `restore` and `backup`, against
 * the flyctl double (/data owned by the gateway user, ssh as root, as on Fly).
 *
 * - Links and special files: no archive holds them (backup names them as skipped, with their
 *   targets). The restore plan lists them, the restore keeps them in place instead of deleting them
 *   with the replaced tree, and the safety backup's manifest names them.
 * - Ctrl-C (SIGINT to the real CLI process) with latency on the call in flight until the signal; the moment is picked by
 *   polling the double's recorded invocations, never by a fixed sleep. Every case exits 130 and leaves
 *   a consistent state (nothing changed, or restored AND restarted); the re-run converges, and no
 *   `.pre-restore-*` / `.clawdfly-restore-*` / partial archive is left behind.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lchownSync, lstatSync, readdirSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Deployed } from '../config/setup.js';
import { startCli, type RunningCli } from '../support/running-cli.js';
import { readArchive } from '../../src/backup/archive.js';
import { asGateway, CREDS, GATEWAY_UID, gatewayWithState, notBackedUp, SESSION, trackDeployments, tree } from './setup.js';
import { createReadStream } from 'node:fs';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const live = trackDeployments();

const LATENCY_MS = '600';
/** The call in flight at each moment (a restore calls: machines list, the safety backup, the upload, the restart, …). */
const BACKUP_STREAM = ' backup /data ';
const UPLOAD = ' restore /data ';
const RESTART = '^machines? restart ';

async function project(): Promise<Deployed> {
  const d = await gatewayWithState(['--runtime', 'clawdbot']);
  live.push(d);
  return d;
}

async function backupFile(d: Deployed): Promise<string> {
  const r = await d.cli(['backup', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).file as string;
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

/** No work folder of a restore left on the volume, no partial archive left here. */
function expectNoLeftovers(d: Deployed): void {
  const data = d.remotePath('/data');
  expect(readdirSync(data).filter((n) => n.startsWith('.pre-restore-') || n.startsWith('.clawdfly-restore-'))).toEqual([]);
  const backups = join(d.dir, '.clawdfly', 'backups');
  expect(existsSync(backups) ? readdirSync(backups).filter((n) => n.includes('.partial-')) : []).toEqual([]);
}

describe('restore is honest about what no archive holds', () => {
  it('lists links and special files in the plan, keeps them in place, and the safety backup names them', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    asGateway(data, 'workspace/notes.md', '# notes\n');
    symlinkSync('notes.md', join(data, 'workspace', 'link'));
    lchownSync(join(data, 'workspace', 'link'), GATEWAY_UID, GATEWAY_UID);
    expect(spawnSync('mkfifo', [join(data, 'workspace', 'pipe')]).status).toBe(0);
    const b = await d.cli(['backup']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout + b.stderr).toContain('workspace/link (symlink)');
    const file = await backupFile(d);
    const backupsDir = join(d.dir, '.clawdfly', 'backups');
    const before = new Set(readdirSync(backupsDir));
    asGateway(data, CREDS, '{"changed":true}', 0o600);

    const r = await d.cli(['restore', file, '--yes']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const text = r.stdout + r.stderr;
    expect(text).toContain('Not in any archive, never followed or recreated: 2 link(s) or special file(s); they stay on the volume (in /data/.pre-restore-* when the machine applies the restore at boot)');
    expect(text).toContain('= workspace/link (symlink → notes.md)');
    expect(text).toContain('= workspace/pipe (special file)');
    // still there, the same link, not followed
    expect(lstatSync(join(data, 'workspace', 'link')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(data, 'workspace', 'link'))).toBe('notes.md');
    expect(lstatSync(join(data, 'workspace', 'pipe')).isFIFO()).toBe(true);
    expectNoLeftovers(d);
    // the safety backup taken before the swap names them, with the link's target
    const [safety] = readdirSync(backupsDir).filter((n) => n.endsWith('.tar.gz') && !before.has(n));
    const verified = await readArchive(createReadStream(join(backupsDir, safety!)));
    expect(verified.manifest.skipped).toEqual(expect.arrayContaining([{ path: 'workspace/link', reason: 'symlink', target: 'notes.md' }, { path: 'workspace/pipe', reason: 'special file' }]));
  }, 240_000);
});

describe('Ctrl-C during restore and backup', () => {
  it('during the safety backup: exit 130, nothing changed on the machine; the re-run restores', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const file = await backupFile(d);
    const expected = tree(data, notBackedUp);
    asGateway(data, CREDS, '{"changed":true}', 0o600);
    const changed = tree(data);
    const restarts = d.fake.restarts(d.machineId);
    // the machine list is recorded: the safety backup's stream is the call in flight
    const run = await startUntil(d, ['restore', file, '--yes'], BACKUP_STREAM, (calls) => calls.some((i) => i.argv[0] === 'machines' || i.argv[0] === 'machine' || i.argv[0] === 'm'));
    const r = await interrupt(run);
    expect(r.code, r.text).toBe(130);
    expect(r.text).toMatch(/interrupted before the (restore began|swap)/);
    expect(tree(data)).toEqual(changed);
    expect(d.fake.restarts(d.machineId)).toBe(restarts);
    expectNoLeftovers(d);
    const again = await d.cli(['restore', file, '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(tree(data, notBackedUp)).toEqual(expected);
    expectNoLeftovers(d);
  }, 240_000);

  it('during the upload: exit 130; either nothing changed or the swap finished and the machine restarted; the re-run restores', async () => {
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
    expectNoLeftovers(d);
    const again = await d.cli(['restore', file, '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(tree(data, notBackedUp)).toEqual(expected);
    expectNoLeftovers(d);
  }, 240_000);

  it('between the swap and the restart: the machine is still restarted on the restored state, exit 130', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const file = await backupFile(d);
    const expected = tree(data, notBackedUp);
    unlinkSync(join(data, SESSION));
    const restarts = d.fake.restarts(d.machineId);
    // the upload-and-swap call is recorded: the restart is the call in flight
    const run = await startUntil(d, ['restore', file, '--yes'], RESTART, (calls) => calls.some(isArchiveCall('restore')));
    const r = await interrupt(run);
    expect(r.code, r.text).toBe(130);
    expect(r.text).toContain('interrupted after the swap');
    expect(r.text).toContain('was restarted and runs on the restored state');
    expect(d.fake.restarts(d.machineId)).toBe(restarts + 1);
    expect(tree(data, notBackedUp)).toEqual(expected);
    expectNoLeftovers(d);
  }, 240_000);

  it('backup: Ctrl-C while the archive streams exits 130 and leaves no archive or partial file; the re-run writes one', async () => {
    const d = await project();
    const run = await startUntil(d, ['backup'], BACKUP_STREAM, (calls) => calls.some((i) => i.argv[0] === 'machines' || i.argv[0] === 'machine' || i.argv[0] === 'm'));
    const r = await interrupt(run);
    expect(r.code, r.text).toBe(130);
    const dir = join(d.dir, '.clawdfly', 'backups');
    expect(existsSync(dir) ? readdirSync(dir).filter((n) => n !== '.gitignore') : []).toEqual([]);
    const file = await backupFile(d);
    expect(existsSync(file)).toBe(true);
    rmSync(file);
  }, 240_000);
});
