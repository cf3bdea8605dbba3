/**
 * doctor and status read what the image's watchdog did (templates/runtime/supervisor.mjs), on the
 * flyctl double: its restart lines (the supervisor's exact format, checked against its real output
 * in test/watchdog/supervisor.test.ts) and Fly's exit event with the watchdog's code (70).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { APP, check, cleanupAll, deployed, failing } from './setup.js';
import { runCli } from '../helpers/cli.js';
import { WATCHDOG_EXIT_CODE } from '../../src/gateway/watchdog.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(cleanupAll);
const T = 300_000;

const restartLine = (seconds: number, answer: string, pid = 23) =>
  `[clawdfly] watchdog: restarting the gateway: 3 health checks failed in a row over ${seconds} s (GET / on port 3000; last answer: ${answer}); SIGTERM to pid ${pid}, SIGKILL after 10 s`;

describe('doctor: watchdog restarts', () => {
  it('one restart: named with its time and the last health answer (warn); status shows it', async () => {
    const d = await deployed();
    // after the deploy's launch event: doctor reads the lines since the machine's config last changed
    const at = Date.now() + 60_000;
    d.fake.seedLogs(APP, [
      { message: '[clawdfly] watchdog: check 1/3 failed: GET / on port 3000: no answer within 5 s', timestamp: new Date(at - 50_000).toISOString() },
      { message: restartLine(47, 'no answer within 5 s'), timestamp: new Date(at).toISOString() },
      { message: `[clawdfly] watchdog: the gateway (pid 23) did not stop within 10 s: killed (SIGKILL); exiting ${WATCHDOG_EXIT_CODE} so the machine restarts`, timestamp: new Date(at + 10_000).toISOString() },
    ], { machineId: d.machineId });
    d.fake.addExitEvent(APP, d.machineId, { exit_code: WATCHDOG_EXIT_CODE, timestamp: at + 10_500, exited_at: new Date(at + 10_500).toISOString() });
    const r = await d.doctor();
    const c = check(r.json, 'watchdog');
    expect(c.status).toBe('warn');
    expect(c.summary).toBe(`the watchdog restarted a frozen gateway 1×, last ${new Date(at).toISOString()}: 3 health checks failed in a row over 47 s (GET / on port 3000; last answer: no answer within 5 s)`);
    expect(c.evidence[0]).toBe(`watchdog restart at ${new Date(at).toISOString()}: 3 health checks failed in a row over 47 s (GET / on port 3000; last answer: no answer within 5 s)`);
    expect(c.evidence.join('\n')).toContain(`log: ${restartLine(47, 'no answer within 5 s')}`);
    // one freeze is not yet a memory problem
    expect(check(r.json, 'memory').status).toBe('ok');

    const status = await runCli(['status', '--dir', d.dir], { env: d.fake.env });
    expect(status.code, status.stderr).toBe(0);
    const exitedAt = new Date(at + 10_500).toISOString();
    expect(status.stdout).toMatch(/Last exit\s+restarted by the watchdog: the gateway stopped answering its health check \(clawdfly doctor\) \[exit 70\]/);
    expect(status.stdout).toMatch(new RegExp(`Watchdog\\s+restarted a frozen gateway at ${exitedAt.replace(/[.]/g, '\\.')}`));
    const json = JSON.parse((await runCli(['status', '--dir', d.dir, '--json'], { env: d.fake.env })).stdout);
    expect(json.lastWatchdogRestart).toEqual({ at: exitedAt, exitCode: 70 });
  }, T);

  it('several restarts point to memory: watchdog and memory fail with the evidence; doctor --fix gives it more memory', async () => {
    const d = await deployed();
    const now = Date.now();
    d.fake.seedLogs(APP, [
      { message: restartLine(55, 'no answer within 5 s'), timestamp: new Date(now + 1).toISOString() },
      { message: restartLine(61, 'HTTP 503 Service Unavailable'), timestamp: new Date(now + 2).toISOString() },
    ], { machineId: d.machineId });
    const r = await d.doctor();
    expect(failing(r.json)).toEqual(['memory', 'watchdog']);
    const w = check(r.json, 'watchdog');
    expect(w.summary).toMatch(/the watchdog restarted a frozen gateway 2× since the config last changed, last .*last answer: HTTP 503 Service Unavailable\): a gateway that keeps freezing is short of memory/);
    expect(w.evidence.filter((e) => e.startsWith('watchdog restart at '))).toHaveLength(2);
    const mem = check(r.json, 'memory');
    expect(mem.summary).toMatch(/the watchdog restarted a frozen gateway 2× or more/);
    expect(mem.evidence.join('\n')).toContain('last answer: no answer within 5 s');
    // the memory step as after an OOM: double the 2048 MB
    expect(mem.fix).toMatch(/--vm-memory 4096 -e NODE_OPTIONS=--max-old-space-size=3072/);

    const fixed = await d.doctor(['--fix', '--yes', '--json']);
    expect(fixed.json!.fixes!.find((f) => f.checks.includes('memory'))?.outcome).toBe('fixed');
    expect(d.machine().config.guest!.memory_mb).toBe(4096);
    // after the machine's config changed, the old freezes are history
    const again = await d.doctor();
    expect(check(again.json, 'watchdog').status).toBe('ok');
    expect(check(again.json, 'memory').status).toBe('ok');
  }, T);

  it('offline: a watchdog turned off in fly.toml is a warning naming the line', async () => {
    const d = await deployed({ flyToml: (t) => t.replace('CLAWDFLY_WATCHDOG = "on"', 'CLAWDFLY_WATCHDOG = "off"') });
    const r = await d.doctor(['--offline', '--json']);
    const c = check(r.json, 'watchdog');
    expect(c).toMatchObject({ status: 'warn', summary: 'the watchdog is off (fly.toml CLAWDFLY_WATCHDOG = "off"): a frozen gateway stays frozen' });
    expect(c.fix).toBe('fly.toml [env] CLAWDFLY_WATCHDOG = "on", then: clawdfly deploy');
    const on = await deployed();
    expect(check((await on.doctor(['--offline', '--json'])).json, 'watchdog')).toMatchObject({ status: 'ok', summary: 'on (fly.toml [env])' });
  }, T);
});
