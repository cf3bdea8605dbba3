// `clawdfly status`: one screen from `status`, `machines list` and `volumes list` on the double.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP, cleanupAll, deployed, type Deployment } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

let d: Deployment;
beforeAll(async () => {
  d = await deployed();
}, 60_000);
afterAll(cleanupAll);

describe('clawdfly status', () => {
  it('shows app, machine state, region, memory, image, runtime, volume and URL on one screen', async () => {
    const mark = d.mark();
    const r = await d.cli(['status']);
    expect(r.code, r.stderr).toBe(0);
    const volumeId = d.fake.machines(APP)[0]!.config.mounts![0]!.volume!;
    expect(r.stdout).toMatch(new RegExp(`Machine\\s+${d.machineId}\\s+started`));
    expect(r.stdout).toMatch(/Region\s+iad/);
    expect(r.stdout).toMatch(/Memory\s+2048 MB \(2 shared CPU\)/);
    expect(r.stdout).toMatch(/Image\s+registry\.fly\.io\/test-claw:deployment-\w+/);
    expect(r.stdout).toMatch(/Runtime\s+clawdbot@2026\.1\.24-3/);
    expect(r.stdout).toMatch(new RegExp(`Volume\\s+clawdbot_data ${volumeId} 1 GB at /data`));
    expect(r.stdout).toMatch(/Last exit\s+none recorded/);
    expect(r.stdout).toContain('https://test-claw.fly.dev/');
    expect(r.stdout).toMatch(/Network\s+public  2a09:\S+ \(v6\), 66\.241\.\S+ \(shared_v4\)/);
    expect(d.since(mark).map((a) => a.slice(0, 2).join(' ')).sort()).toEqual(['ips list', 'machines list', 'status --json', 'volumes list']);
  });

  it('names the last restart cause from the newest exit event (MonitorEvent nesting included)', async () => {
    d.fake.addExitEvent(APP, d.machineId, { exit_code: 1, timestamp: Date.now() - 60_000 });
    d.fake.addExitEvent(APP, d.machineId, { exit_code: 137, oom_killed: true, monitorEvent: true, timestamp: Date.now() - 10_000 });
    const r = await d.cli(['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.lastExit).toMatchObject({ exitCode: 137, oomKilled: true });
    expect(json.lastExit.cause).toMatch(/^out of memory \(killed by the kernel\) \[exit 137\]/);
    expect(json.machine).toMatchObject({ id: d.machineId, state: 'started', region: 'iad', memoryMb: 2048 });
    expect(json.volume).toMatchObject({ name: 'clawdbot_data', sizeGb: 1, path: '/data' });
    expect(json.ok).toBe(true);

    d.fake.addExitEvent(APP, d.machineId, { exit_code: 134, timestamp: Date.now() - 1_000 });
    const human = await d.cli(['status']);
    expect(human.stdout).toMatch(/Last exit\s+out of memory \(V8 heap limit, SIGABRT\) \[exit 134\]/);
  });

  it('a stopped machine makes status not ok (exit 0, state shown)', async () => {
    d.fake.setMachine(APP, d.machineId, { state: 'stopped' });
    try {
      const r = await d.cli(['status', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const json = JSON.parse(r.stdout);
      expect(json.ok).toBe(false);
      expect(json.machine.state).toBe('stopped');
    } finally {
      d.fake.setMachine(APP, d.machineId, { state: 'started' });
    }
  });

  it('an app that does not exist yet points at deploy', async () => {
    const fresh = await deployed({ deploy: false });
    const r = await fresh.cli(['status']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/app test-claw does not exist on Fly\.io yet/);
    expect(r.stderr).toMatch(/clawdfly deploy/);
  });
});
