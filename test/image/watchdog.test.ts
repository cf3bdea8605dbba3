/**
 * The watchdog in the real OpenClaw image (`clawdfly init --yes --runtime openclaw`, the unchanged
 * generated Dockerfile, run like a Fly machine): the entrypoint's supervisor runs openclaw 2026.9.6 as
 * its child and polls its /healthz. The test freezes the gateway with SIGSTOP:
 *  - for less than the window: failed checks, the gateway answers again, no restart;
 *  - for good: one line saying why, SIGTERM, exit 70; restarted as Fly's `[[restart]] policy =
 *    "always"` does, the gateway listens again;
 *  - Fly's stop (SIGTERM to the entrypoint) still reaches the gateway: its own shutdown line, exit 0.
 * Then doctor, against the flyctl double holding that machine's real log lines and its exit
 * event, names the watchdog restart with its time and the last health answer.
 * The windows are fly.toml [env] settings, shortened here (3 checks, 3 s apart, 4 s to answer).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flyMachineOptions, openclawProject, removeCanonicalDirs, type CanonicalProject } from './project.js';
import { ensureNodeBaseImage, podman, runMachine, type Machine } from '../support/podman.js';
import { RUNTIMES } from '../../src/gateway/runtime.js';
import { parseWatchdogRestart, WATCHDOG_EXIT_CODE } from '../../src/gateway/watchdog.js';
import { classifyLines, findFirst } from '../../src/gateway/logs.js';
import { APP, check, cleanupAll, deployed } from '../doctor/setup.js';

const MIN = 60_000;
const OPENCLAW = RUNTIMES['openclaw@2026.9.6']!;
const WINDOW = { CLAWDFLY_WATCHDOG_INTERVAL: '3s', CLAWDFLY_WATCHDOG_TIMEOUT: '4s', CLAWDFLY_WATCHDOG_FAILURES: '3', CLAWDFLY_WATCHDOG_KILL_GRACE: '10s' };
/** Longer than one check (interval + timeout), so at least one fails; far shorter than three (3 × 4 + 2 × 3 s). */
const SHORT_FREEZE_SECONDS = 9;
const ARMED = /\[clawdfly\] watchdog: armed: GET \/healthz on port 3000 answered \(HTTP 200 /;

let project: CanonicalProject;
const temps: string[] = [];
const machines: Machine[] = [];
/** The machine's log with podman's timestamps, kept for doctor. */
let timedLog = '';
/** The last lines after Fly's SIGTERM (printed: what the gateway says when it stops). */
let stopTail: string[] = [];

beforeAll(async () => {
  await ensureNodeBaseImage(24);
  project = await openclawProject();
  console.log(`[watchdog image] image ${project.build.cached ? 'cached' : `built in ${project.build.seconds.toFixed(0)} s`} (${project.image})`);
}, 60 * MIN);

afterAll(async () => {
  for (const m of machines) await m.remove().catch(() => undefined);
  for (const d of temps) rmSync(d, { recursive: true, force: true });
  removeCanonicalDirs();
  cleanupAll();
}, 2 * MIN);

/** The supervisor's child: the gateway (PID 1 is the supervisor; `podman exec` runs outside its tree). */
async function gatewayPid(m: Machine): Promise<number> {
  const r = await m.exec(['sh', '-c', 'cat /proc/1/task/*/children']);
  const pids = r.stdout.trim().split(/\s+/).filter(Boolean).map(Number);
  expect(pids, `children of PID 1: ${r.stdout} ${r.stderr}`).toHaveLength(1);
  return pids[0]!;
}

async function commandOf(m: Machine, pid: number): Promise<string> {
  return (await m.exec(['sh', '-c', `tr '\\0' ' ' < /proc/${pid}/cmdline`])).stdout.trim();
}

/**
 * Boots until the watchdog is armed. openclaw 2026.9.6 may exit 78 at start on a starved host
 * (its state-lease worker is not ready within 5 s); Fly's restart policy starts it again, so does this.
 */
async function bootUntilArmed(m: Machine, fromOffset: number, crashes: string[]): Promise<string> {
  for (;;) {
    try {
      return await m.waitForLog(ARMED, 10 * MIN, { fromOffset });
    } catch (error) {
      const st = await m.inspect().catch(() => undefined);
      if (!st || st.running || crashes.length >= 2) throw error;
      crashes.push(`exit ${st.exitCode}`);
      await m.restart({ keepRootfs: true });
    }
  }
}

describe('the watchdog in the real OpenClaw image', () => {
  it('a short freeze is survived; a long one restarts the gateway (line, exit 70, listening again); Fly’s SIGTERM still ends cleanly', async () => {
    const volume = mkdtempSync(join(tmpdir(), 'clawdfly-watchdog-vol-'));
    temps.push(volume);
    const options = flyMachineOptions(project.dir, { image: project.image, volumeDir: volume, name: `watchdog-${process.pid}`, env: WINDOW });
    // fly.toml turns it on, with the defaults the README names
    expect(options.env['CLAWDFLY_WATCHDOG']).toBe('on');
    const m = await runMachine(options);
    machines.push(m);
    const crashes: string[] = [];

    // 1. armed once the gateway answered its liveness endpoint: what openclaw 2026.9.6 serves there
    const armed = await bootUntilArmed(m, 0, crashes);
    expect(armed).toContain('HTTP 200 {"ok":true,"status":"live"}');
    const healthz = await fetch(`${m.url}/healthz`);
    expect(healthz.status).toBe(200);
    expect(await healthz.json()).toEqual({ ok: true, status: 'live' });
    const logs1 = await m.logs();
    expect(logs1.indexOf('[clawdfly] watchdog: armed')).toBeGreaterThan(logs1.search(OPENCLAW.listeningLine)); // never before the start
    const pid = await gatewayPid(m);
    // what the supervisor costs beside the gateway (measured, printed)
    const rssKb = async (p: number) => Number(/VmRSS:\s+(\d+) kB/.exec((await m.exec(['cat', `/proc/${p}/status`])).stdout)?.[1] ?? NaN);
    const memory = { supervisorRssMb: Math.round((await rssKb(1)) / 102.4) / 10, gatewayRssMb: Math.round((await rssKb(pid)) / 102.4) / 10 };
    // PID 1 is the supervisor, the gateway its child
    expect(await commandOf(m, 1)).toContain('/app/supervisor.mjs --health-path /healthz');
    expect(await commandOf(m, pid)).not.toContain('supervisor.mjs');

    // 2. frozen for less than the window: counted, answered again, no restart, the same gateway
    const before = (await m.logs()).length;
    const freeze = await m.exec(['sh', '-c', 'kill -STOP "$1" && sleep "$2"; kill -CONT "$1"', 'sh', String(pid), String(SHORT_FREEZE_SECONDS)]);
    expect(freeze.code, freeze.stderr).toBe(0);
    const back = await m.waitForLog(/\[clawdfly\] watchdog: the gateway answers again/, 2 * MIN, { fromOffset: before });
    const shortLog = (await m.logs()).slice(before);
    expect(shortLog).toMatch(/\[clawdfly\] watchdog: check 1\/3 failed: GET \/healthz on port 3000: no answer within 4 s/);
    expect(back).toMatch(/answers again \(HTTP 200 \{"ok":true,"status":"live"\}\) after [12] failed check\(s\)/);
    expect(shortLog).not.toContain('watchdog: restarting');
    expect((await m.inspect()).running).toBe(true);
    expect(await gatewayPid(m)).toBe(pid);
    expect((await fetch(`${m.url}/healthz`)).status).toBe(200);

    // 3. frozen for good: the watchdog's line, SIGTERM (then SIGCONT), exit 70
    const beforeFreeze = (await m.logs()).length;
    // (`kill` is the shell's: the slim image has no /bin/kill)
    const stop = await m.exec(['sh', '-c', 'kill -STOP "$1"', 'sh', String(pid)]);
    expect(stop.code, stop.stderr).toBe(0);
    const line = await m.waitForLog(/\[clawdfly\] watchdog: restarting the gateway/, 3 * MIN, { fromOffset: beforeFreeze });
    const restart = parseWatchdogRestart(line);
    expect(restart).toMatchObject({ failures: 3, check: 'GET /healthz on port 3000', lastAnswer: 'no answer within 4 s', pid });
    for (let i = 0; i < 120 && (await m.inspect()).running; i++) await new Promise((r) => setTimeout(r, 1000));
    const exited = await m.inspect();
    expect(exited.running).toBe(false);
    expect(exited.exitCode).toBe(WATCHDOG_EXIT_CODE);
    const freezeLog = (await m.logs()).slice(beforeFreeze);
    expect(freezeLog).toMatch(/\[clawdfly\] watchdog: the gateway \(pid \d+\) (stopped after SIGTERM|did not stop within 10 s: killed)[^\n]*; exiting 70 so the machine restarts/);
    const timed = await podman(['logs', '--timestamps', m.name]);
    timedLog = timed.stdout + timed.stderr;

    // 4. Fly's restart policy starts the machine again (the volume stays): listening again, armed again
    const beforeRestart = (await m.logs()).length;
    await m.restart({ keepRootfs: true });
    // (`podman restart` keeps the earlier runs' log: only what comes after counts)
    await bootUntilArmed(m, beforeRestart, crashes);
    expect((await m.logs()).slice(beforeRestart)).toMatch(OPENCLAW.listeningLine);
    expect((await fetch(`${m.url}/healthz`)).status).toBe(200);
    expect(await gatewayPid(m)).toBeGreaterThan(1);

    // 5. a deploy: SIGTERM to the entrypoint → the gateway's clean shutdown line, exit 0
    // once its start finished: a stop during start-up first drains the start's own work, which on
    // this loaded host can outlast any grace (as on Fly, whose kill_timeout then SIGKILLs it)
    await m.waitForLog(OPENCLAW.readyLine!, 5 * MIN, { fromOffset: beforeRestart });
    const beforeStop = (await m.logs()).length;
    const stopped = await m.stop(30);
    const stopLog = (await m.logs()).slice(beforeStop).trim().split('\n');
    stopTail = stopLog;
    expect(stopped.exitCode, stopLog.join('\n')).toBe(0);
    // the signal reached the gateway, which ran its own shutdown: openclaw 2026.9.6 logs
    // `received SIGTERM; shutting down` (what doctor reads as a shutdown), closes its server and
    // ends with `[shutdown] completed cleanly in N ms` (exit 0; 1 when a shutdown step failed).
    // Nothing comes from the supervisor (no watchdog, no "the gateway exited").
    expect(stopLog.find((l) => findFirst(classifyLines(l), 'shutdown'))).toMatch(/\[gateway\] received SIGTERM; shutting down$/);
    expect(stopLog.at(-1)).toMatch(/\[shutdown\] completed cleanly in \d+ms$/);
    expect(stopLog.join('\n')).not.toMatch(/\[clawdfly\]/);
    console.log(`[watchdog image] ${JSON.stringify({ restartLine: line, memory, stopTail, crashes })}`);
  }, 40 * MIN);

  it('doctor names the watchdog restart (the machine’s real lines on the flyctl double): time and last health answer', async () => {
    expect(timedLog, 'the first test did not reach the restart').toContain('watchdog: restarting the gateway');
    // podman's `--timestamps` lines: `<RFC 3339 time> <message>`
    const d = await deployed({ noBootLogs: true });
    // moved in time to just after the double's deploy (doctor reads lines since the last config change)
    const timed = timedLog.split('\n').filter(Boolean).map((l) => {
      const m = /^(\S+)\s(.*)$/.exec(l)!;
      // podman prints nanoseconds: milliseconds are enough for Date.parse
      return { at: Date.parse(m[1]!.replace(/(\.\d{3})\d+/, '$1')), message: m[2]! };
    });
    expect(timed.every((l) => Number.isFinite(l.at))).toBe(true);
    const shift = Date.now() + 1000 - timed[0]!.at;
    const lines = timed.map((l) => ({ timestamp: new Date(l.at + shift).toISOString(), message: l.message }));
    const restartAt = lines.find((l) => l.message.includes('watchdog: restarting the gateway'))!.timestamp;
    d.fake.seedLogs(APP, lines, { machineId: d.machineId });
    d.fake.addExitEvent(APP, d.machineId, { exit_code: WATCHDOG_EXIT_CODE, timestamp: Date.parse(restartAt) + 1000 });
    const r = await d.doctor();
    const c = check(r.json, 'watchdog');
    expect(c.status).toBe('warn');
    expect(c.summary).toMatch(/the watchdog restarted a frozen gateway 1×/);
    expect(c.evidence.join('\n')).toContain(`${restartAt}: 3 health checks failed in a row over`);
    expect(c.evidence.join('\n')).toContain('last answer: no answer within 4 s');
  }, 10 * MIN);
});
