import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { APP, check, cleanupAll, deployed, notOk } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(cleanupAll);

const IDS = ['flyctl', 'auth', 'app', 'bind', 'port', 'memory', 'lock', 'config', 'state-dir', 'command-drift', 'secrets', 'auth-token-bind', 'crash-loop', 'workspace', 'pairing', 'network', 'backup', 'signal-data', 'ready', 'upgrade', 'leftovers', 'watchdog', 'offsite'];

/** A fresh local backup: the `backup` check is ok only with one. */
async function backedUp(d: Awaited<ReturnType<typeof deployed>>): Promise<void> {
  const r = await runCli(['backup', '--dir', d.dir], { env: d.fake.env });
  expect(r.code, r.stderr).toBe(0);
}

describe('doctor on a healthy deployment', () => {
  it('reports every check ok, keeps a lock whose owner is alive, exits 0, and makes one ssh round trip', async () => {
    const d = await deployed();
    // The running gateway's own lock: owner alive (in the machine's process table, read by the agent), so not stale.
    const pid = d.fake.gatewayPid(APP, d.machineId);
    d.writeRemote('/data/tmp/clawdbot-1000/gateway.9f80b0d2.lock', JSON.stringify({ pid, createdAt: new Date().toISOString(), configPath: '/data/clawdbot.json' }));
    await backedUp(d);
    const before = d.fake.invocations().length;
    const r = await d.doctor();
    expect(r.code, r.stderr).toBe(0);
    expect(r.json!.checks.map((c) => c.id)).toEqual(IDS);
    expect(notOk(r.json)).toEqual([]);
    // every check ok; signal-data has nothing to look at in a project without Signal, ready in a clawdbot one
    const notOkIds = r.json!.checks.filter((c) => c.status !== 'ok').map((c) => `${c.id}:${c.status}`);
    expect(notOkIds).toEqual(['signal-data:skip', 'ready:skip', 'offsite:skip']);
    expect(check(r.json, 'lock').summary).toMatch(/1 lock file\(s\), owner alive/);
    expect(check(r.json, 'bind').summary).toContain('listens on 0.0.0.0:3000');
    const calls = d.fake.invocations().slice(before).map((i) => i.argv.slice(0, 2).join(' '));
    expect(calls.filter((c) => c === 'ssh console')).toHaveLength(1);
    expect(calls.sort()).toEqual(['auth whoami', 'ips list', 'logs --no-tail', 'machines list', 'secrets list', 'ssh console', 'status --json', 'version --json'].sort());
  }, 240_000);

  it('prints a checklist with ✔ marks and a summary line', async () => {
    const d = await deployed();
    await backedUp(d);
    const r = await d.doctor([]);
    expect(r.code, r.stderr).toBe(0);
    for (const id of IDS.filter((i) => i !== 'signal-data' && i !== 'ready' && i !== 'offsite')) expect(r.stdout).toMatch(new RegExp(`✔ ${id.replace('-', '\\-')}\\s`));
    expect(r.stdout).toMatch(/- signal-data\s+not the Signal variant/);
    expect(r.stdout).toMatch(/20 ok, 0 warning\(s\), 0 failing, 3 skipped — evidence in \d+\.\d s/);
  }, 240_000);
});
