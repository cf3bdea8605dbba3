// `clawdfly devices`: the gateway's own device commands over `ssh console -C` on the double, whose
// clawdbot stand-in records its argv and serves the pending/paired lists seeded here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP, cleanupAll, deployed, type Deployment } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const now = Date.now();
// Shaped like the real gateway's pending requests (infra/device-pairing in clawdbot 2026.1.24-3).
const olderRequest = { requestId: 'req-older-1111', deviceId: 'dev-aaaaaaaaaaaaaaaaaaaa', displayName: 'Firefox on Linux', platform: 'linux', clientId: 'control-ui', clientMode: 'webchat', role: 'operator', remoteIp: '203.0.113.7', ts: now - 4 * 60_000, isRepair: false };
const newerRequest = { requestId: 'req-newer-2222', deviceId: 'dev-bbbbbbbbbbbbbbbbbbbb', displayName: 'Safari on iPhone', platform: 'ios', clientId: 'control-ui', clientMode: 'webchat', role: 'operator', remoteIp: '198.51.100.9', ts: now - 30_000, isRepair: false };

let d: Deployment;
beforeAll(async () => {
  d = await deployed();
}, 60_000);
afterAll(cleanupAll);

const gatewayCalls = () => d.fake.clawdbotCalls().map((c) => c.argv);

describe('clawdfly devices', () => {
  it('lists pending requests newest first with age and client, through the gateway CLI on the chosen machine', async () => {
    // Ages are relative to when the requests were made; the CLI may run a while after the file
    // loaded, so the shown age is checked against the time that really passed (no fixed window).
    const seeded = Date.now();
    const ageAtSeed = (req: { ts: number }) => seeded - req.ts;
    d.fake.setDevices(APP, d.machineId, { pending: [olderRequest, newerRequest], paired: [] });
    const before = gatewayCalls().length;
    const mark = d.mark();
    const r = await d.cli(['devices']);
    const passed = Date.now() - seeded;
    /** The age a line shows, in ms (its unit's floor), and the range the real age allows. */
    const shownAge = (line: string) => {
      const [, n, unit] = line.match(/(\d+)([smhd]) ago/)!;
      return Number(n) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 's' | 'm' | 'h' | 'd'];
    };
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const newer = lines.findIndex((l) => l.includes('req-newer-2222'));
    const older = lines.findIndex((l) => l.includes('req-older-1111'));
    expect(newer).toBeGreaterThan(-1);
    expect(older).toBeGreaterThan(newer);
    expect(lines[newer]).toMatch(/Safari on iPhone/);
    for (const [line, req, unit] of [[lines[newer]!, newerRequest, 1_000], [lines[older]!, olderRequest, 60_000]] as const) {
      expect(shownAge(line)).toBeGreaterThanOrEqual(Math.floor(ageAtSeed(req) / unit) * unit);
      expect(shownAge(line)).toBeLessThanOrEqual(ageAtSeed(req) + passed);
    }
    expect(r.stdout).toContain('clawdfly devices approve --latest');
    // The stand-in saw the gateway's own CLI, absolute entry, JSON, and the gateway's real port.
    expect(gatewayCalls().slice(before)).toEqual([['node', '/app/node_modules/clawdbot/dist/index.js', 'devices', 'list', '--json', '--url=ws://127.0.0.1:3000']]);
    const ssh = d.since(mark).find((a) => a[0] === 'ssh')!;
    expect(ssh.slice(0, 6)).toEqual(['ssh', 'console', '-a', APP, '--machine', d.machineId]);
    expect(ssh).toContain('-q');
    // As the gateway's user: the CLI writes its device identity under /data, which root must not own.
    expect(ssh.slice(6, 8)).toEqual(['--user', 'node']);
  });

  it('what a connecting client calls itself is shown inertly: escape sequences in its name never reach the terminal', async () => {
    // displayName, platform and role are the client's own words, stored by the gateway as sent
    const hostile = { ...newerRequest, requestId: 'req-hostile-3333', displayName: 'Evil\u001b]0;pwned\u0007\u001b[2J', platform: 'linux\u009b31m' };
    const paired = { deviceId: 'dev-cccccccccccccccccccc', displayName: 'Paired\u001b[31m red', roles: ['operator\u001b[0m'], remoteIp: '192.0.2.1' };
    d.fake.setDevices(APP, d.machineId, { pending: [hostile], paired: [paired] });
    const r = await d.cli(['devices']);
    expect(r.code, r.stderr).toBe(0);
    // no control character at all, and each one shown as its visible escape
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(r.stdout).toContain('Evil\\u001b]0;pwned\\u0007\\u001b[2J');
    expect(r.stdout).toContain('Paired\\u001b[31m red');
    expect(r.stdout).toContain('operator\\u001b[0m');
  });

  it('--json gives the list with ageSeconds', async () => {
    d.fake.setDevices(APP, d.machineId, { pending: [olderRequest, newerRequest], paired: [] });
    const r = await d.cli(['devices', 'list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.machine).toBe(d.machineId);
    expect(json.pending.map((p: { requestId: string }) => p.requestId)).toEqual(['req-newer-2222', 'req-older-1111']);
    expect(json.pending[1].ageSeconds).toBeGreaterThanOrEqual(240);
    expect(json.pending[1].client).toContain('Firefox on Linux');
  });

  it('approve --latest approves the newest pending request and leaves the other one pending', async () => {
    d.fake.setDevices(APP, d.machineId, { pending: [olderRequest, newerRequest], paired: [] });
    const before = gatewayCalls().length;
    const r = await d.cli(['devices', 'approve', '--latest']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Approved Safari on iPhone/);
    expect(r.stderr).toMatch(/1 more pending request/);
    const calls = gatewayCalls().slice(before);
    expect(calls.map((a) => a.slice(2, 5))).toEqual([['devices', 'list', '--json'], ['devices', 'approve', 'req-newer-2222']]);
    const list = JSON.parse((await d.cli(['devices', '--json'])).stdout);
    expect(list.pending.map((p: { requestId: string }) => p.requestId)).toEqual(['req-older-1111']);
    expect(list.paired.map((p: { deviceId: string }) => p.deviceId)).toEqual([newerRequest.deviceId]);
  });

  it('approve <id> approves that request; reject <id> rejects one', async () => {
    d.fake.setDevices(APP, d.machineId, { pending: [olderRequest, newerRequest], paired: [] });
    const approve = await d.cli(['devices', 'approve', 'req-older-1111', '--json']);
    expect(approve.code, approve.stderr).toBe(0);
    expect(JSON.parse(approve.stdout)).toMatchObject({ ok: true, action: 'approve', requestId: 'req-older-1111', deviceId: olderRequest.deviceId });
    const reject = await d.cli(['devices', 'reject', 'req-newer-2222']);
    expect(reject.code, reject.stderr).toBe(0);
    const list = JSON.parse((await d.cli(['devices', '--json'])).stdout);
    expect(list.pending).toEqual([]);
    expect(list.paired.map((p: { deviceId: string }) => p.deviceId)).toEqual([olderRequest.deviceId]);
  });

  it('approve --latest with nothing pending fails with the way to create a request, and approves nothing', async () => {
    d.fake.setDevices(APP, d.machineId, { pending: [], paired: [] });
    const before = gatewayCalls().length;
    const r = await d.cli(['devices', 'approve', '--latest']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no pending device request/);
    expect(r.stderr).toMatch(/clawdfly open/);
    expect(gatewayCalls().slice(before).map((a) => a[3])).toEqual(['list']);
  });

  it('an unknown request id is explained (requests expire after 5 minutes)', async () => {
    d.fake.setDevices(APP, d.machineId, { pending: [newerRequest], paired: [] });
    const r = await d.cli(['devices', 'approve', 'req-gone-0000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/req-gone-0000 is not pending .*5 minutes/);
  });

  it('refuses bad input before calling flyctl (exit 2)', async () => {
    for (const args of [['devices', 'approve'], ['devices', 'frobnicate'], ['devices', 'approve', 'x', '--latest'], ['devices', 'reject']]) {
      const mark = d.mark();
      const r = await d.cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(d.since(mark), args.join(' ')).toEqual([]);
    }
  });

  it('asks the gateway on the port its machine was started with', async () => {
    d.fake.setDevices(APP, d.machineId, { pending: [], paired: [] });
    const cmd = ['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', '8080', '--bind', 'lan'];
    d.fake.setMachine(APP, d.machineId, { config: { init: { cmd } } });
    try {
      const before = gatewayCalls().length;
      const r = await d.cli(['devices']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/No pending device requests/);
      expect(gatewayCalls().slice(before)[0]).toContain('--url=ws://127.0.0.1:8080');
    } finally {
      d.fake.setMachine(APP, d.machineId, { config: { init: { cmd: cmd.map((a) => (a === '8080' ? '3000' : a)) } } });
    }
  });

  it('a stopped machine is reported with the command that starts it', async () => {
    d.fake.setMachine(APP, d.machineId, { state: 'stopped' });
    try {
      const mark = d.mark();
      const r = await d.cli(['devices']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`machine ${d.machineId} of ${APP} is stopped`));
      expect(r.stderr).toContain(`fly machine start ${d.machineId} -a ${APP}`);
      expect(d.since(mark).some((a) => a[0] === 'ssh')).toBe(false);
    } finally {
      d.fake.setMachine(APP, d.machineId, { state: 'started' });
    }
  });
});

// openclaw 2026.9.6 refuses `--url` without an explicit token (the double answers as it does); its
// CLI is aimed at the machine's port through OPENCLAW_GATEWAY_PORT, with `env` as argv[0] (no shell).
describe('clawdfly devices on an openclaw machine', () => {
  let oc: Deployment;
  beforeAll(async () => {
    oc = await deployed({ init: ['--runtime', 'openclaw'] });
  }, 60_000);

  it('reaches the gateway through the port variable, never --url, and approves', async () => {
    oc.fake.setDevices(APP, oc.machineId, { pending: [newerRequest], paired: [] });
    const calls = () => oc.fake.clawdbotCalls();
    const before = calls().length;
    const list = await oc.cli(['devices', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).pending.map((p: { requestId: string }) => p.requestId)).toEqual(['req-newer-2222']);
    const approve = await oc.cli(['devices', 'approve', '--latest']);
    expect(approve.code, approve.stderr).toBe(0);
    const seen = calls().slice(before);
    expect(seen.map((c) => c.argv[1])).toEqual(Array(seen.length).fill('/app/node_modules/openclaw/dist/index.js'));
    expect(seen.map((c) => c.env)).toEqual(Array(seen.length).fill({ OPENCLAW_GATEWAY_PORT: '3000' }));
    expect(seen.flatMap((c) => c.argv).some((a) => a.startsWith('--url') || a.startsWith('--token'))).toBe(false);
    const ssh = oc.fake.invocations().map((i: { argv: string[] }) => i.argv).filter((a: string[]) => a[0] === 'ssh');
    expect(ssh.at(-1)).toContain('env OPENCLAW_GATEWAY_PORT=3000 node /app/node_modules/openclaw/dist/index.js devices approve req-newer-2222 --json');
  });
});

