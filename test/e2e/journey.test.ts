/**
 * The end-to-end journey, for real: `clawdfly init` → `deploy` against the flyctl double whose
 * machines are real containers of the generated image (FAKEFLY_BACKEND=podman: `fly deploy`
 * builds the Dockerfile, `ssh console -C` is `podman exec -i`, `logs` is the container's output,
 * `machine restart` recreates the container) → `config push` hot-reloaded by the real gateway →
 * `doctor` → SIGKILL → the stale lock on the volume → `doctor --fix` → listening again.
 *
 * One test, one real gateway (clawdbot 2026.1.24-3), one real image, loopback only.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM without types
import { podmanContainer } from '../fakefly/lib/backend-podman.mjs';
import { assertNoSecrets, runCli, TEST_SECRETS, type CliResult } from '../helpers/cli.js';
import { canonicalProject, CANONICAL_FLAGS, projectSecretValues } from '../image/project.js';
import { ensureBaseImage, ensurePodman, freePort, podman } from '../support/podman.js';
import { containerLogs as containerLogsOf, createPodmanFly, disposePodmanFly, logMark as logMarkOf, waitForContainerLog as waitForLog, type LogMark } from '../support/podman-fly.js';
import { run, tail } from '../support/util.js';

const MIN = 60_000;
const APP = CANONICAL_FLAGS[CANONICAL_FLAGS.indexOf('--app') + 1]!;
const LISTENING = /\[gateway\] listening on ws:\/\/0\.0\.0\.0:3000 \(PID \d+\)/;

interface Fake {
  dir: string;
  env: Record<string, string>;
  restarts(machineId?: string): number;
  restartLog(): { reason: string; machine: string }[];
  machines(app: string): MachineApi[];
  machineFsPath(app: string, machineId: string, path: string): string;
  state(): { apps: Record<string, { logs: { message: string; instance: string }[] }> };
  cleanup(): void;
}

interface MachineApi {
  id: string;
  state: string;
  events: { type: string; status: string; timestamp: number; request?: { exit_event?: { exit_code: number; oom_killed: boolean; requested_stop: boolean } } }[];
}

interface DoctorJson {
  ok: boolean;
  machine?: string;
  checks: { id: string; status: 'ok' | 'warn' | 'fail' | 'skip'; summary: string; evidence: string[] }[];
  fixes?: { checks: string[]; kind: string; outcome: string; note?: string }[];
}

let fake: Fake | undefined;
let projectDir = '';
let hostPort = 0;
const timings: Record<string, number> = {};

function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  return fn().finally(() => {
    timings[name] = Math.round((Date.now() - t) / 100) / 10;
  });
}

/**
 * The real CLI (bin/clawdfly.js; CLAWDFLY_E2E_BIN runs the journey against another build, e.g. a
 * patched copy), every byte checked for the project's secrets as runCli does.
 */
async function cli(args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 5 * MIN): Promise<CliResult> {
  const argv = [...args, '--dir', projectDir];
  const env = { ...process.env, NO_COLOR: '1', CI: 'true', ...fake!.env, ...extraEnv };
  const bin = process.env['CLAWDFLY_E2E_BIN'];
  if (!bin) return runCli(argv, { env, timeoutMs, secrets: Object.values(projectSecretValues(projectDir)) });
  const started = Date.now();
  const r = await run(process.execPath, [bin, ...argv], { env, timeoutMs, check: false });
  const secrets = [...Object.values(TEST_SECRETS), ...Object.values(projectSecretValues(projectDir))];
  assertNoSecrets(r.stdout + r.stderr, secrets, `output of clawdfly ${args.join(' ')}`);
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

function json<T>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not one JSON document (exit ${r.code}):\n${r.stdout}\n--- stderr ---\n${tail(r.stderr, 30)}`);
  }
}

function machine(): MachineApi {
  const [m] = fake!.machines(APP);
  if (!m) throw new Error('the double has no machine');
  return m;
}

/** The machine's current container: its id and its output so far (stdout and stderr in order). */
function containerLogs(): Promise<{ id: string; text: string }> {
  return containerLogsOf(fake!.dir, machine().id);
}

function logMark(): Promise<LogMark> {
  return logMarkOf(fake!.dir, machine().id);
}

/** A line of the live container's output (after `mark`, when it is still the same container). */
function waitForContainerLog(re: RegExp, timeoutMs: number, mark?: LogMark): Promise<string> {
  return waitForLog(fake!.dir, machine().id, re, timeoutMs, mark);
}

async function getRoot(): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${hostPort}/`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

/** The gateway's lock files on the volume (host side of /data/tmp/clawdbot-1000/). */
function volumeLocks(): { path: string; pid: number; startTime?: number; createdAt?: string }[] {
  const dir = fake!.machineFsPath(APP, machine().id, '/data/tmp/clawdbot-1000');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^gateway\.[0-9a-f]{8}\.lock$/.test(f))
    .map((f) => ({ path: `/data/tmp/clawdbot-1000/${f}`, ...(JSON.parse(readFileSync(join(dir, f), 'utf8')) as { pid: number; startTime?: number; createdAt?: string }) }));
}

function summary(d: DoctorJson): string {
  return d.checks.map((c) => `${c.status.padEnd(4)} ${c.id}: ${c.summary}`).join('\n');
}

describe('end-to-end journey against the real image (podman)', () => {
  beforeAll(async () => {
    await ensurePodman();
    await ensureBaseImage();
    // `init --yes` with the canonical answers, and its image built (shared with the image tests:
    // cached by content hash; the deploy below then only re-uses podman's layers).
    const canonical = await step('init+image', () => canonicalProject());
    projectDir = canonical.dir;
    hostPort = await freePort();
    fake = createPodmanFly<Fake>(projectDir, hostPort, 3 * MIN);
  }, 25 * MIN);

  afterAll(async () => {
    await disposePodmanFly(fake, projectDir);
    console.log(`journey timings (s): ${JSON.stringify(timings)}`);
  }, 5 * MIN);

  it('init → deploy → config push (hot reload) → doctor → SIGKILL → stale lock → doctor --fix → listening again', async () => {
    // 1. deploy: app, volume, secrets, the real image built and run as the machine, verified
    const deploy = await step('deploy', () => cli(['deploy', '--yes', '--json'], {}, 25 * MIN));
    // --json: the failure's cause is on stdout
    expect(deploy.code, `${deploy.stdout}\n${tail(deploy.stderr, 30)}`).toBe(0);
    const deployed = json<{ ok: boolean; machineId: string; url: string; config: string; changes: string[] }>(deploy);
    expect(deployed.ok).toBe(true);
    expect(deployed.url).toBe(`http://127.0.0.1:${hostPort}/`);
    expect(deployed.changes).toEqual(expect.arrayContaining(['app', 'volume', 'secrets', 'deploy']));
    // the entrypoint seeded /data/clawdbot.json from the image: deploy found it equal, wrote nothing
    expect(deployed.config).toBe('unchanged');
    expect(deployed.machineId).toBe(machine().id);
    // first deploy: the machine was launched once; no extra restart for the config
    expect(fake!.restarts()).toBe(0);
    const bootLog = await containerLogs();
    expect(bootLog.text).toMatch(LISTENING);
    // what `fly logs` serves is the container's own output
    const flyLogs = fake!.state().apps[APP]!.logs.map((l) => l.message);
    expect(flyLogs.some((l) => LISTENING.test(l))).toBe(true);
    const root = await getRoot();
    expect(root.status).toBe(200);
    expect(root.body).toContain('Clawdbot Control');
    const locksUp = volumeLocks();
    expect(locksUp).toHaveLength(1);

    // 2. config push of a hot-safe change: one fallback model less
    const configPath = join(projectDir, 'clawdbot.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { agents: { defaults: { model: { fallbacks: string[] } } } };
    const fallbacks = config.agents.defaults.model.fallbacks;
    expect(fallbacks.length).toBeGreaterThan(1);
    config.agents.defaults.model.fallbacks = fallbacks.slice(0, 1);
    writeFileSync(configPath, JSON.stringify(config, null, 2) + '\n');
    const beforePush = await logMark();
    const push = await step('config push', () => cli(['config', 'push', '--yes', '--json'], {}, 5 * MIN));
    expect(push.code, `${push.stdout}\n${push.stderr}`).toBe(0);
    // ssh runs as root (hallpass); the gateway runs as node (uid 1000) and must still read the file
    const pushed = statSync(fake!.machineFsPath(APP, machine().id, '/data/clawdbot.json'));
    expect(pushed.uid === 1000 || (pushed.mode & 0o004) !== 0, `config push left /data/clawdbot.json owned by uid ${pushed.uid}, mode ${(pushed.mode & 0o777).toString(8)}: the gateway (uid 1000) cannot read it`).toBe(true);
    // the wait fails the test (with the log tail) if the line never comes
    await waitForContainerLog(/config hot reload applied/, 60_000, beforePush);
    expect(fake!.restarts()).toBe(0);
    const remote = JSON.parse(readFileSync(fake!.machineFsPath(APP, machine().id, '/data/clawdbot.json'), 'utf8')) as typeof config;
    expect(remote.agents.defaults.model.fallbacks).toEqual(fallbacks.slice(0, 1));

    // 3. doctor: nothing fails on a healthy deployment
    const healthy = await step('doctor', () => cli(['doctor', '--json']));
    const healthyReport = json<DoctorJson>(healthy);
    expect(healthyReport.checks.filter((c) => c.status === 'fail'), summary(healthyReport)).toEqual([]);
    expect(healthy.code).toBe(0);
    expect(healthyReport.checks.find((c) => c.id === 'lock')?.status).toBe('ok');

    // 4. SIGKILL: the gateway dies without a word; its lock stays on the volume
    const [lock] = volumeLocks();
    await podman(['kill', '-s', 'KILL', podmanContainer(fake!.dir, machine().id) as string]);
    // the double learns of the exit on its next call; Fly's restart is held back for this step
    const noRestart = { FAKEFLY_PODMAN_AUTORESTART: '0' };
    const down = await step('doctor (down)', () => cli(['doctor', '--json'], noRestart));
    const downReport = json<DoctorJson>(down);
    const stopped = machine();
    expect(stopped.state).toBe('stopped');
    const exit = stopped.events.find((e) => e.type === 'exit')?.request?.exit_event;
    expect(exit).toMatchObject({ exit_code: 137, oom_killed: false, requested_stop: false });
    expect(volumeLocks()).toEqual([lock]); // a real stale lock: its owner is gone with the container
    expect(down.code).toBe(1);
    expect(downReport.checks.find((c) => c.id === 'crash-loop')?.status, summary(downReport)).toBe('fail');

    // 5. doctor --fix brings it back; the entrypoint removes the stale lock before the gateway starts
    const fix = await step('doctor --fix', () => cli(['doctor', '--fix', '--yes', '--json'], noRestart, 10 * MIN));
    const fixReport = json<DoctorJson>(fix);
    // exit 1 would mean a check still fails after the repair: that is a failed fix, whatever the machine says
    expect(fix.code, `${JSON.stringify(fixReport.fixes)}\n${summary(fixReport)}\n${fix.stderr}`).toBe(0);
    expect(machine().state, summary(fixReport)).toBe('started');
    const removed = await waitForContainerLog(/\[clawdfly\] removed stale gateway lock/, 60_000);
    expect(removed).toContain(lock!.path);
    await waitForContainerLog(LISTENING, 3 * MIN);
    expect((await getRoot()).status).toBe(200);
    const [relock] = volumeLocks();
    expect(relock?.createdAt).not.toBe(lock!.createdAt);

    // 6. and doctor agrees
    const after = await step('doctor (after)', () => cli(['doctor', '--json']));
    const afterReport = json<DoctorJson>(after);
    console.log(`doctor before the kill:\n${summary(healthyReport)}\n\ndoctor after SIGKILL:\n${summary(downReport)}\n\ndoctor --fix:\n${JSON.stringify(fixReport.fixes)}\n${summary(fixReport)}\n\ndoctor after the fix:\n${summary(afterReport)}\n\nrestarts: ${JSON.stringify(fake!.restartLog())}`);
    expect(afterReport.checks.find((c) => c.id === 'lock')?.status).toBe('ok');
  }, 40 * MIN);
});
