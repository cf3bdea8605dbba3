/**
 * `clawdfly config push` through the real binary against the flyctl double: the machine's
 * /data is a real directory, so bytes, modes, backups and leftovers are checked on disk.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '../helpers/cli.js';
import {
  APP, backups, deployedProject, editLocal, gatewayReactsTo, gatewayRewrite, modeOf, putRemote, sha256, sshCommands, stateDirFiles, type Deployed,
} from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';
import { agentFrame } from '../../src/remote/agent-call.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const DISCORD = ['--discord', '--discord-guild', '123456789012345678:general'];
const live: Deployed[] = [];

async function project(): Promise<Deployed> {
  const d = await deployedProject(DISCORD, { DISCORD_BOT_TOKEN: TEST_SECRETS.DISCORD_BOT_TOKEN });
  live.push(d);
  // the gateway has been running with the local file: its own rewrite of it is on the volume
  putRemote(d, gatewayRewrite(readFileSync(d.localPath, 'utf8')));
  return d;
}

afterEach((ctx) => {
  for (const d of live.splice(0)) {
    // a failed test keeps the double's state (invocations.jsonl, machine fs) for a look
    if (ctx.task.result?.state === 'fail') console.error(`fakefly state kept: ${d.fake.dir}`);
    else d.fake.cleanup();
  }
});

/** Only these names may ever sit in the state dir: the live file, our backups, the gateway's own. */
function expectNoLeftovers(d: Deployed): void {
  for (const f of stateDirFiles(d)) expect(f).toMatch(/^(clawdbot\.json|clawdbot\.json\.\d{8}T\d+Z\.bak|workspace|tmp)$/);
}

describe('config push', () => {
  it('uploads a valid change: remote bytes equal local, a backup of the old file, mode 0600, hot reload reported, no restart', async () => {
    const d = await project();
    const before = d.remoteText()!;
    const local = editLocal(d, (c) => (c.agents.defaults.maxConcurrent = 3));
    const [result] = await Promise.all([
      d.cli(['config', 'push', '--yes', '--wait', '20']),
      gatewayReactsTo(d, local, ['[reload] config hot reload applied (agents.defaults.maxConcurrent)']),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(d.remoteText()).toBe(local);
    expect(sha256(d.remoteText()!)).toBe(sha256(local));
    expect(modeOf(d.remotePath())).toBe(0o600);
    const made = backups(d);
    expect(made).toHaveLength(1);
    expect(readFileSync(d.remotePath(`/data/${made[0]}`), 'utf8')).toBe(before);
    expect(modeOf(d.remotePath(`/data/${made[0]}`))).toBe(0o600);
    expectNoLeftovers(d);
    expect(result.stdout).toContain('"maxConcurrent": 3');
    expect(result.stdout).toContain('hot-reloaded');
    expect(d.fake.restarts(d.machineId)).toBe(0);
    // the bytes went over stdin, never on argv
    const upload = d.fake.invocations().find((i) => i.argv.join(' ').includes(' config-push /data '));
    expect(upload?.stdin.bytes).toBe(agentFrame().length + Buffer.byteLength(local));
    expect(upload?.argv.join(' ')).not.toContain('maxConcurrent');
  }, 90_000);

  it('says "already in sync" and writes nothing when the remote differs only by what the gateway adds', async () => {
    const d = await project();
    const result = await d.cli(['config', 'push', '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('already in sync');
    expect(sshCommands(d).some((c) => c.includes('mktemp'))).toBe(false);
    expect(backups(d)).toEqual([]);
  }, 60_000);

  it('never sends an invalid file: exit 2, the problem with its line, no ssh at all', async () => {
    const d = await project();
    const before = d.remoteText();
    editLocal(d, (c) => (c.foo = 1));
    const result = await d.cli(['config', 'push', '--yes']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/clawdbot\.json:\d+: <root>: Unrecognized key: "foo"/);
    expect(result.stderr).toContain('nothing was sent');
    expect(d.fake.invocations().filter((i) => i.argv[0] === 'ssh')).toEqual([]);
    expect(d.remoteText()).toBe(before);
  }, 60_000);

  it.each([
    ['during the upload (the one upload + checked commit call of the remote agent)', 'ssh console:match=config-push'],
  ])('a connection that breaks %s leaves the live file untouched; a plain retry then works', async (_when, fail) => {
    const d = await project();
    const before = d.remoteText()!;
    const local = editLocal(d, (c) => (c.agents.defaults.maxConcurrent = 2));
    const broken = await d.cli(['config', 'push', '--yes', '--wait', '0', '--no-restart'], { FAKEFLY_FAIL: fail });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/operation timed out|ssh console failed/);
    expect(d.remoteText()).toBe(before);
    expect(modeOf(d.remotePath())).toBe(0o600);
    expect(backups(d)).toEqual([]);
    expectNoLeftovers(d);

    const retry = await d.cli(['config', 'push', '--yes', '--wait', '0', '--no-restart']);
    expect(retry.code, retry.stderr).toBe(0);
    expect(d.remoteText()).toBe(local);
    expectNoLeftovers(d);
  }, 90_000);

  it('restores the backup when the gateway rejects the new config, keeps the machine running, and shows the gateway\'s words', async () => {
    const d = await project();
    const before = d.remoteText()!;
    // valid for clawdfly's schema, refused by the gateway's plugin-aware check
    const local = editLocal(d, (c) => (c.plugins = { entries: { nosuch: { enabled: true } } }));
    const [result] = await Promise.all([
      d.cli(['config', 'push', '--yes', '--wait', '20']),
      gatewayReactsTo(d, local, ['[reload] config reload skipped (invalid config): plugins.entries.nosuch: plugin not found: nosuch']),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the gateway rejected the new config');
    expect(result.stderr).toContain('plugins.entries.nosuch: plugin not found: nosuch');
    expect(d.remoteText()).toBe(before);
    expect(modeOf(d.remotePath())).toBe(0o600);
    expect(d.fake.machines(APP).find((m) => m.id === d.machineId)?.state).toBe('started');
    expect(d.fake.restarts(d.machineId)).toBe(0);
    expectNoLeftovers(d);
  }, 90_000);

  it('a change that needs a gateway restart is left to the gateway (in-process), not a machine restart', async () => {
    const d = await project();
    const local = editLocal(d, (c) => (c.gateway.port = 3001));
    const [result] = await Promise.all([
      d.cli(['config', 'push', '--yes', '--wait', '20', '--json']),
      gatewayReactsTo(d, local, ['[reload] config change requires gateway restart (gateway.port)']),
    ]);
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc).toMatchObject({ ok: true, changed: true, reload: 'restart', restarted: false, sha256: sha256(local) });
    expect(doc.backup).toMatch(/^\/data\/clawdbot\.json\.\d{8}T\d+Z\.bak$/);
    expect(d.fake.restarts(d.machineId)).toBe(0);
  }, 90_000);

  it('restarts the machine when gateway.reload.mode is off (without waiting), and only then', async () => {
    const d = await project();
    const local = editLocal(d, (c) => (c.gateway.reload = { mode: 'off' }));
    const result = await d.cli(['config', 'push', '--yes', '--wait', '20']);
    expect(result.code, result.stderr).toBe(0);
    expect(d.remoteText()).toBe(local);
    expect(d.fake.restarts(d.machineId)).toBe(1);
    expect(result.stdout).toContain('gateway.reload.mode is off');
    expect(d.fake.invocations().some((i) => i.argv[0] === 'logs')).toBe(false);
  }, 60_000);

  it('with nothing logged in time: restarts the machine, or with --no-restart says the change waits for the next restart', async () => {
    const d = await project();
    editLocal(d, (c) => (c.agents.defaults.maxConcurrent = 5));
    const quiet = await d.cli(['config', 'push', '--yes', '--wait', '1', '--no-restart']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(d.fake.restarts(d.machineId)).toBe(0);
    expect(quiet.stderr).toContain('applies at the next restart');

    editLocal(d, (c) => (c.agents.defaults.maxConcurrent = 6));
    const restarted = await d.cli(['config', 'push', '--yes', '--wait', '1']);
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(restarted.stdout).toContain('no reload logged within 1 s');
    expect(d.fake.restarts(d.machineId)).toBe(1);
    expect(backups(d)).toHaveLength(2);
  }, 90_000);

  it('keeps only the last --keep-backups backups, oldest removed first', async () => {
    const d = await project();
    const contents: string[] = [];
    for (let n = 1; n <= 4; n++) {
      contents.push(d.remoteText()!);
      editLocal(d, (c) => (c.agents.defaults.maxConcurrent = 10 + n));
      const r = await d.cli(['config', 'push', '--yes', '--wait', '0', '--no-restart', '--keep-backups', '2']);
      expect(r.code, r.stderr).toBe(0);
    }
    const kept = backups(d);
    expect(kept).toHaveLength(2);
    expect(kept.map((f) => readFileSync(d.remotePath(`/data/${f}`), 'utf8'))).toEqual(contents.slice(-2));
  }, 120_000);

  it('refuses to push without --yes when there is no terminal, before writing anything', async () => {
    const d = await project();
    const before = d.remoteText();
    editLocal(d, (c) => (c.agents.defaults.maxConcurrent = 7));
    const result = await d.cli(['config', 'push']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--yes');
    expect(sshCommands(d).some((c) => c.includes('mktemp'))).toBe(false);
    expect(d.remoteText()).toBe(before);
  }, 60_000);
});
