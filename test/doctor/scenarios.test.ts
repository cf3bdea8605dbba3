/**
 * One scenario per check: the double is put into the faulty state (fly.toml the user wrote, machine
 * config, exit events, the real gateway's log lines, files on the volume); doctor must report that
 * check as `fail` with the proving evidence; `doctor --fix --yes` must leave the double in a state
 * where every check is ok again — and where the next deploy would not undo the repair.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { APP, check, cleanupAll, deployed, failing, fixtureLines, type Deployment } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(cleanupAll);

const T = 300_000;

function editProcess(text: string, edit: (cmd: string) => string): string {
  return text.replace(/^(\s*app = ")(node dist\/index\.js gateway [^"]*)(")/m, (_, a: string, cmd: string, b: string) => `${a}${edit(cmd)}${b}`);
}

/** doctor --fix --yes, then a fresh doctor: the repaired state must hold on its own. */
async function fixAndRecheck(d: Deployment, id: string) {
  const fixed = await d.doctor(['--fix', '--yes', '--json']);
  expect(fixed.json!.fixes!.find((f) => f.checks.includes(id))?.outcome, JSON.stringify(fixed.json!.fixes)).toBe('fixed');
  expect(failing(fixed.json), JSON.stringify(fixed.json!.checks.filter((c) => c.status === 'fail'))).toEqual([]);
  expect(fixed.code).toBe(0);
  const again = await d.doctor();
  expect(check(again.json, id).status).toBe('ok');
  expect(failing(again.json)).toEqual([]);
  return fixed;
}

describe('doctor scenarios (flyctl double)', () => {
  it('bind: a loopback bind fails with the machine command and the listening line; --fix edits fly.toml and redeploys', async () => {
    const d = await deployed({ flyToml: (t) => editProcess(t, (c) => c.replace('--bind lan', '--bind loopback')) });
    const r = await d.doctor();
    expect(r.code).toBe(1);
    expect(failing(r.json)).toEqual(['bind']);
    const c = check(r.json, 'bind');
    expect(c.evidence.join('\n')).toContain('init.cmd: node dist/index.js gateway --allow-unconfigured --port 3000 --bind loopback');
    expect(c.evidence.join('\n')).toMatch(/log: .*\[gateway\] listening on ws:\/\/127\.0\.0\.1:3000 \(PID \d+\)/);
    expect(c.fix).toContain('--bind lan');
    await fixAndRecheck(d, 'bind');
    expect(d.flyToml()).toMatch(/^\s*app = "node dist\/index\.js gateway --allow-unconfigured --port 3000 --bind lan"$/m);
    expect(d.flyToml()).toContain('# --bind lan listens on 0.0.0.0 so Fly'); // the user's comments survive
    expect(d.machine().config.init!.cmd).toContain('lan');
  }, T);

  it('port: --port ≠ internal_port fails with both values; --fix sets --port in fly.toml and redeploys', async () => {
    const d = await deployed({ flyToml: (t) => editProcess(t, (c) => c.replace('--port 3000', '--port 8080')) });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['port']);
    const c = check(r.json, 'port');
    expect(c.summary).toContain('internal_port 3000 ≠ gateway port 8080');
    expect(c.evidence.join('\n')).toContain('--port 8080');
    await fixAndRecheck(d, 'port');
    expect(d.flyToml()).toMatch(/--port 3000 --bind lan"/);
    expect(d.machine().config.init!.cmd).toContain('3000');
  }, T);

  it('memory: 512 MB with OOM exits and the real heap-limit lines fails; --fix updates the machine AND fly.toml', async () => {
    const d = await deployed({
      flyToml: (t) => t.replace('memory = "2048mb"', 'memory = "512mb"').replace('--max-old-space-size=1536', '--max-old-space-size=384'),
    });
    d.fake.seedLogs(APP, fixtureLines('oom-heap-384mb.log'), { machineId: d.machineId });
    d.fake.addExitEvent(APP, d.machineId, { exit_code: 134 });
    d.fake.addExitEvent(APP, d.machineId, { exit_code: 137, oom_killed: true });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['memory']);
    const ev = check(r.json, 'memory').evidence.join('\n');
    expect(ev).toContain('guest.memory_mb = 512');
    expect(ev).toContain('exit_code=137 oom_killed=true');
    expect(ev).toContain('FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory');
    expect(check(r.json, 'memory').fix).toContain(`fly machine update ${d.machineId} --vm-memory 2048`);
    await fixAndRecheck(d, 'memory');
    expect(d.machine().config.guest!.memory_mb).toBe(2048);
    expect(d.machine().config.env!['NODE_OPTIONS']).toBe('--max-old-space-size=1536');
    expect(d.flyToml()).toContain('memory = "2048mb"');
    expect(d.flyToml()).toContain('NODE_OPTIONS = "--max-old-space-size=1536"');
    // The next deploy keeps it: fly.toml says the same as the machine.
    d.fly(['deploy', '-a', APP, '-c', 'fly.toml', '--ha=false', '--remote-only', '-y']);
    expect(d.machine().config.guest!.memory_mb).toBe(2048);
  }, T);

  it('memory: an OOM at the recommended 2048 MB steps up to 4096 MB (not "fixed" to 2048 again), with the cost', async () => {
    const d = await deployed();
    d.fake.seedLogs(APP, fixtureLines('oom-heap-384mb.log'), { machineId: d.machineId });
    d.fake.addExitEvent(APP, d.machineId, { exit_code: 137, oom_killed: true });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['memory']);
    const memory = check(r.json, 'memory');
    expect(memory.summary).toMatch(/→ 4096 MB \(≈ \$\d+\.\d\d\/month\)/);
    expect(memory.fix).toContain(`fly machine update ${d.machineId} --vm-memory 4096`);
    await fixAndRecheck(d, 'memory');
    expect(d.machine().config.guest!.memory_mb).toBe(4096);
    expect(d.flyToml()).toContain('memory = "4096mb"');
    expect(d.flyToml()).toContain('NODE_OPTIONS = "--max-old-space-size=3072"');
  }, T);

  it('memory: an OOM at 1024 MB on a machine whose fly.toml says 2048 MB steps to 2048 (the README rule: the memory it ran out at), not 4096', async () => {
    const d = await deployed();
    d.fly(['machine', 'update', d.machineId, '--vm-memory', '1024', '-y', '-a', APP]);
    d.fake.addExitEvent(APP, d.machineId, { exit_code: 137, oom_killed: true });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['memory']);
    const memory = check(r.json, 'memory');
    expect(memory.summary).toMatch(/→ 2048 MB \(≈ \$\d+\.\d\d\/month\)/);
    expect(memory.fix).toContain(`fly machine update ${d.machineId} --vm-memory 2048`);
    expect(memory.fix).not.toContain('4096');
    await fixAndRecheck(d, 'memory');
    expect(d.machine().config.guest!.memory_mb).toBe(2048);
    expect(d.flyToml()).toContain('memory = "2048mb"');
  }, T);

  it('memory: an OOM at the most a VM size holds moves to the next size', async () => {
    const d = await deployed({ flyToml: (t) => t.replace('memory = "2048mb"', 'memory = "4096mb"').replace('--max-old-space-size=1536', '--max-old-space-size=3072') });
    d.fake.addExitEvent(APP, d.machineId, { exit_code: 137, oom_killed: true });
    d.fly(['machine', 'update', d.machineId, '--vm-memory', '4096', '-y', '-a', APP]);
    d.fake.addExitEvent(APP, d.machineId, { exit_code: 137, oom_killed: true });
    const r = await d.doctor();
    const memory = check(r.json, 'memory');
    expect(memory.summary).toContain('8192 MB on shared-cpu-4x');
    expect(memory.fix).toContain('--vm-size shared-cpu-4x --vm-memory 8192');
    expect(memory.fix).toContain('size = "shared-cpu-4x"');
  }, T);

  it('lock: a lock whose owner is dead plus "already running" fails; --fix removes only that file and restarts', async () => {
    const d = await deployed();
    const lockPath = '/data/tmp/clawdbot-1000/gateway.9f80b0d2.lock';
    d.writeRemote(lockPath, '{"pid":10578,"createdAt":"2026-11-24T05:52:43.800Z","configPath":"/data/clawdbot.json","startTime":949036}');
    d.fake.seedLogs(APP, fixtureLines('lock-already-running.log'), { machineId: d.machineId });
    const restarts = d.fake.restarts(d.machineId);
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['lock']);
    const ev = check(r.json, 'lock').evidence.join('\n');
    expect(ev).toContain('gateway already running (pid 10578); lock timeout after 5000ms');
    expect(ev).toContain(`${lockPath}: {"pid":10578`);
    expect(ev).toContain('pid 10578 is not running');
    await fixAndRecheck(d, 'lock');
    expect(existsSync(d.remotePath(lockPath))).toBe(false);
    expect(d.fake.restarts(d.machineId)).toBe(restarts + 1);
  }, T);

  it('lock: a lock whose pid now runs another process (start time differs, read by the agent on the machine) fails; --fix removes it', async () => {
    const d = await deployed();
    const pid = d.fake.gatewayPid(APP, d.machineId)!;
    const processes = [{ pid, command: 'node dist/index.js gateway', startTime: 1234 }];
    d.fake.setMachine(APP, d.machineId, { fake: { processes } });
    const reused = '/data/gateway.0000000a.lock';
    d.writeRemote(reused, JSON.stringify({ pid, createdAt: '2026-11-24T05:52:43.800Z', startTime: 999 }));
    d.fake.seedLogs(APP, fixtureLines('lock-already-running.log'), { machineId: d.machineId });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['lock']);
    expect(check(r.json, 'lock').evidence.join('\n')).toContain(`pid ${pid} now belongs to another process (start time 1234 ≠ 999)`);
    await fixAndRecheck(d, 'lock');
    expect(existsSync(d.remotePath(reused))).toBe(false);
  }, T);

  it('lock: openclaw refusing to start on a killed boot\'s owner lease fails the lock check; --fix restarts (the entrypoint releases the lease)', async () => {
    const d = await deployed();
    // the real lines of openclaw 2026.9.6 after a SIGKILL (test/image/openclaw.test.ts, before the entrypoint released the lease)
    d.fake.seedLogs(APP, [
      '2026-11-29T09:41:19.350+00:00 [gateway] starting...',
      '2026-11-29T09:41:19.885+00:00 Gateway failed to start: Another Gateway owner lease is still active for this state directory. Run openclaw gateway status --deep for diagnostics.',
    ], { machineId: d.machineId });
    const restarts = d.fake.restarts(d.machineId);
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['lock']);
    const lock = check(r.json, 'lock');
    expect(lock.summary).toContain('Another Gateway owner lease is still active');
    expect(lock.evidence.join('\n')).toContain('Gateway failed to start: Another Gateway owner lease is still active for this state directory');
    expect(lock.fix).toContain(`fly machine restart ${d.machineId}`);
    await fixAndRecheck(d, 'lock');
    expect(d.fake.restarts(d.machineId)).toBe(restarts + 1);
  }, T);

  it('config: the gateway rejecting the file (real "Invalid config" lines) fails; --fix pushes the local config and restarts', async () => {
    const d = await deployed();
    const local = JSON.parse(readFileSync(join(d.dir, 'clawdbot.json'), 'utf8')) as Record<string, unknown>;
    d.writeRemote('/data/clawdbot.json', JSON.stringify({ ...local, foo: 1 }, null, 2));
    d.fake.seedLogs(APP, fixtureLines('config-unknown-key.log'), { machineId: d.machineId });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['config']);
    const ev = check(r.json, 'config').evidence.join('\n');
    expect(ev).toContain('Invalid config at /data/clawdbot.json');
    expect(ev).toContain('problem: <root>: Unrecognized key: "foo"');
    await fixAndRecheck(d, 'config');
    expect(JSON.parse(readFileSync(d.remotePath('/data/clawdbot.json'), 'utf8'))).toEqual(local);
  }, T);

  it('config: no file on the volume fails; --fix pushes it', async () => {
    const d = await deployed({ noRemoteConfig: true });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['config']);
    expect(check(r.json, 'config').evidence).toEqual(['/data/clawdbot.json: absent']);
    await fixAndRecheck(d, 'config');
    expect(readFileSync(d.remotePath('/data/clawdbot.json'), 'utf8')).toBe(readFileSync(join(d.dir, 'clawdbot.json'), 'utf8'));
  }, T);

  it('state-dir: CLAWDBOT_STATE_DIR missing from fly.toml (so from the machine) fails; --fix restores it and redeploys', async () => {
    const d = await deployed({ flyToml: (t) => t.replace(/^\s*CLAWDBOT_STATE_DIR = "\/data"\n/m, '') });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['state-dir']);
    const ev = check(r.json, 'state-dir').evidence.join('\n');
    expect(ev).toContain(`machine ${d.machineId} env CLAWDBOT_STATE_DIR = (unset); mounts[0].path = "/data"`);
    expect(ev).toContain('fly.toml [env] CLAWDBOT_STATE_DIR = (unset)');
    await fixAndRecheck(d, 'state-dir');
    expect(d.flyToml()).toMatch(/^\s*CLAWDBOT_STATE_DIR = "\/data"$/m);
    expect(d.machine().config.env!['CLAWDBOT_STATE_DIR']).toBe('/data');
  }, T);

  it('command-drift: a `machine update --command` differs from fly.toml; --fix adopts the healthy command into fly.toml and redeploys', async () => {
    const d = await deployed();
    const cmd = 'node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan --verbose';
    d.fly(['machine', 'update', d.machineId, '--command', cmd, '-y', '-a', APP]);
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['command-drift']);
    expect(check(r.json, 'command-drift').evidence).toContain(`machine ${d.machineId} init.cmd: ${cmd}`);
    await fixAndRecheck(d, 'command-drift');
    expect(d.flyToml()).toContain(`app = "${cmd}"`);
    expect(d.machine().config.init!.cmd!.join(' ')).toBe(cmd);
  }, T);

  it('secrets: the primary model key unset on Fly fails (names only); --fix imports it from .clawdfly/secrets.env', async () => {
    const d = await deployed();
    d.fly(['secrets', 'unset', 'ANTHROPIC_API_KEY', '-a', APP]);
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['secrets']);
    expect(check(r.json, 'secrets').summary).toContain('ANTHROPIC_API_KEY (primary model anthropic/claude-opus-4-5)');
    await fixAndRecheck(d, 'secrets');
    expect(Object.keys(d.fake.secrets(APP))).toContain('ANTHROPIC_API_KEY');
  }, T);

  it('auth-token-bind: no token and the real "Refusing to bind" line fails; --fix sets the token from secrets.env', async () => {
    const d = await deployed();
    d.fly(['secrets', 'unset', 'CLAWDBOT_GATEWAY_TOKEN', '-a', APP]);
    d.fake.seedLogs(APP, fixtureLines('refuse-lan-without-auth.log'), { machineId: d.machineId });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['auth-token-bind']);
    const ev = check(r.json, 'auth-token-bind').evidence.join('\n');
    expect(ev).toContain('Refusing to bind gateway to lan without auth.');
    expect(ev).toContain('no CLAWDBOT_GATEWAY_TOKEN');
    await fixAndRecheck(d, 'auth-token-bind');
    const local = readFileSync(join(d.dir, '.clawdfly', 'secrets.env'), 'utf8').match(/^CLAWDBOT_GATEWAY_TOKEN="([0-9a-f]{64})"$/m)![1];
    expect(d.fake.secrets(APP)['CLAWDBOT_GATEWAY_TOKEN']).toBe(local);
  }, T);

  it('crash-loop: stopped after 10 crashes with the known fetch-failed crash under on-failure; --fix redeploys with restart always', async () => {
    const d = await deployed();
    d.fake.setMachine(APP, d.machineId, { config: { restart: { policy: 'on-failure', max_retries: 10 } } });
    d.fake.seedLogs(APP, ['[telegram] setMyCommands failed: HttpError: Network request for \'setMyCommands\' failed!', '[clawdbot] Unhandled promise rejection: TypeError: fetch failed'], { machineId: d.machineId });
    for (let i = 0; i < 10; i++) d.fake.addExitEvent(APP, d.machineId, { exit_code: 1, restart_count: i, thenStart: i < 9 });
    d.fake.setMachine(APP, d.machineId, { state: 'stopped' });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['crash-loop']);
    expect(check(r.json, 'app').status).toBe('warn');
    const c = check(r.json, 'crash-loop');
    expect(c.summary).toContain('after 10 crash(es)');
    expect(c.evidence.join('\n')).toContain('restart policy: on-failure, max_retries 10');
    expect(c.evidence.join('\n')).toContain('Unhandled promise rejection: TypeError: fetch failed');
    await fixAndRecheck(d, 'crash-loop');
    expect(d.machine().state).toBe('started');
    expect(d.machine().config.restart!.policy).toBe('always');
  }, T);

  it('workspace: agents.defaults.workspace unset fails; --fix sets it on the volume and pushes the config', async () => {
    const d = await deployed({
      config: (c) => {
        delete ((c['agents'] as Record<string, Record<string, unknown>>)['defaults'] as Record<string, unknown>)['workspace'];
        return c;
      },
    });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['workspace']);
    expect(check(r.json, 'workspace').evidence).toEqual(['/data/clawdbot.json: agents.defaults.workspace is not set']);
    await fixAndRecheck(d, 'workspace');
    const remote = JSON.parse(readFileSync(d.remotePath('/data/clawdbot.json'), 'utf8'));
    expect(remote.agents.defaults.workspace).toBe('/data/workspace');
    expect(JSON.parse(readFileSync(join(d.dir, 'clawdbot.json'), 'utf8')).agents.defaults.workspace).toBe('/data/workspace');
  }, T);

  it('pairing: "1008 pairing required" with a pending request fails; --fix approves it', async () => {
    const d = await deployed();
    d.fake.setDevices(APP, d.machineId, { pending: [{ requestId: 'req-7f3a', deviceId: 'dev-91c2', role: 'operator', client: 'Control UI', requestedAt: new Date().toISOString() }] });
    d.fake.seedLogs(APP, ['[gateway] disconnected (1008): pairing required'], { machineId: d.machineId });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['pairing']);
    const ev = check(r.json, 'pairing').evidence.join('\n');
    expect(ev).toContain('pairing required');
    expect(ev).toContain('pending request req-7f3a from Control UI');
    await fixAndRecheck(d, 'pairing');
  }, T);

  it('app: a stopped machine (requested stop) fails; --fix starts it', async () => {
    const d = await deployed();
    d.fly(['machine', 'stop', d.machineId, '-a', APP]);
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['app']);
    expect(check(r.json, 'app').evidence).toEqual([`machine ${d.machineId} state: stopped`]);
    // With the machine stopped, what lives on it cannot be read: skipped with the reason.
    expect(check(r.json, 'lock').status).toBe('skip');
    await fixAndRecheck(d, 'app');
    expect(d.machine().state).toBe('started');
  }, T);

  it('flyctl: a version older than 0.4.80 fails with the version; the fix is manual (fly version upgrade)', async () => {
    const d = await deployed();
    const r = await d.doctor(['--fix', '--yes', '--json'], { FAKEFLY_VERSION: '0.4.70' });
    expect(failing(r.json)).toEqual(['flyctl']);
    expect(check(r.json, 'flyctl').evidence).toEqual(['flyctl version --json: "Version": "0.4.70"']);
    expect(check(r.json, 'flyctl').fix).toBe('fly version upgrade');
    expect(r.json!.fixes).toEqual([{ checks: ['flyctl'], kind: 'manual', steps: ['fly version upgrade'], outcome: 'manual' }]);
    // After the user upgrades:
    expect(check((await d.doctor()).json, 'flyctl').status).toBe('ok');
  }, T);

  it('flyctl: not installed fails and every Fly check is skipped with the reason', async () => {
    const d = await deployed();
    const r = await d.doctor(['--json', '--flyctl', join(d.dir, 'no-such-flyctl')]);
    expect(failing(r.json)).toEqual(['flyctl']);
    expect(check(r.json, 'flyctl').summary).toBe('flyctl is not installed');
    expect(check(r.json, 'app').summary).toBe('flyctl is not installed (see flyctl)');
  }, T);

  it('auth: an expired token fails with flyctl\'s error; the other Fly checks skip instead of failing', async () => {
    const d = await deployed();
    d.fake.setAuth('expired');
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['auth']);
    expect(check(r.json, 'auth').evidence.join('\n')).toContain('You must be authenticated to view this.');
    expect(check(r.json, 'auth').fix).toContain('fly auth login');
    expect(check(r.json, 'port').status).toBe('skip');
    d.fake.setAuth('ok'); // the user logs in again
    expect(failing((await d.doctor()).json)).toEqual([]);
  }, T);
});
