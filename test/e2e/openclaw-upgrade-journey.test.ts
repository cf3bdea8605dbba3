/**
 * One OpenClaw release to the next, for real (#28, "Done means"): `openclaw@2026.9.5` deployed on the
 * flyctl double whose machines are real containers of the generated images (FAKEFLY_BACKEND=podman)
 * → a device paired and a session written by the real 2026.9.5 → `clawdfly upgrade --to
 * openclaw@2026.9.6` → the same device and session, now read by 2026.9.6 → `clawdfly rollback` →
 * 2026.9.5 runs again on its own `state/` (its SQLite store), with the device and the session, and
 * nothing of it deleted.
 *
 * Both releases keep their store in `state/`: what a rollback discards is computed from the pair
 * (src/gateway/runtime.ts stateEntriesToDiscard). Computed from one row (2026.9.6's `state`), the
 * rollback removed `/data/state` once 2026.9.5 was verified on it: the device and the session went.
 * And 2026.9.6 still runs while the rollback puts 2026.9.5's files back (ssh needs a started machine),
 * and it opens its stores by path: the rollback holds it (SIGSTOP, the watchdog's hold file) first.
 *
 * Loopback only, anthropic-only config (offline, any openai/* model makes openclaw install its codex
 * plugin at start and never listen; see test/image/project.ts).
 */
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertNoSecrets, runCli, TEST_SECRETS, type CliResult } from '../helpers/cli.js';
import { CANONICAL_FLAGS, initCanonical, projectSecretValues } from '../image/project.js';
import { ensureNodeBaseImage, ensurePodman, freePort } from '../support/podman.js';
import { createPodmanFly, disposePodmanFly, logMark, waitForContainerLog as waitForLog, type LogMark } from '../support/podman-fly.js';
import { run, tail } from '../support/util.js';
import { gatewayCli, gatewayRpcCli, RUNTIMES, type GatewayRuntime } from '../../src/gateway/runtime.js';
import { remoteCommand } from '../../src/fly/quote.js';
import { WATCHDOG_HOLD_FILE } from '../../src/gateway/watchdog.js';

const MIN = 60_000;
const APP = CANONICAL_FLAGS[CANONICAL_FLAGS.indexOf('--app') + 1]!;
const OLDER = RUNTIMES['openclaw@2026.9.5']!;
const NEWER = RUNTIMES['openclaw@2026.9.6']!;
const PORT = 3000;
const SESSION_ID = 'openclaw-journey';

interface Fake {
  dir: string;
  env: Record<string, string>;
  machines(app: string): MachineApi[];
  machineFsPath(app: string, machineId: string, path: string): string;
  invocations(): { argv: string[] }[];
  cleanup(): void;
}

interface MachineApi {
  id: string;
  state: string;
  image_ref?: { digest?: string };
  config: { image?: string; init?: { cmd?: string[] }; env?: Record<string, string> };
}

let fake: Fake | undefined;
let projectDir = '';
let hostPort = 0;
let secrets: string[] = [];
const timings: Record<string, number> = {};

function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  return fn().finally(() => {
    timings[name] = Math.round((Date.now() - t) / 100) / 10;
  });
}

function cli(args: string[], timeoutMs = 5 * MIN): Promise<CliResult> {
  const env = { ...process.env, NO_COLOR: '1', CI: 'true', ...fake!.env };
  return runCli([...args, '--dir', projectDir], { env, timeoutMs, secrets });
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

function onVolume(path: string): string {
  return fake!.machineFsPath(APP, machine().id, path);
}

async function sshAsNode(argv: string[], timeoutMs = 3 * MIN): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await run('flyctl', ['ssh', 'console', '-a', APP, '--user', 'node', '-C', remoteCommand(argv)], { env: { ...process.env, ...fake!.env }, timeoutMs, check: false });
  assertNoSecrets(r.stdout + r.stderr, secrets, `output of ssh ${argv.slice(2, 4).join(' ')}`);
  return r;
}

function firstJson<T>(stdout: string, what: string): T {
  for (const m of stdout.matchAll(/^\s*\{/gm)) {
    try {
      return JSON.parse(stdout.slice(m.index, stdout.lastIndexOf('}') + 1)) as T;
    } catch {
      // not the document: the next line that opens an object
    }
  }
  throw new Error(`${what} printed no JSON document:\n${tail(stdout, 30)}`);
}

async function pairedDevices(runtime: GatewayRuntime): Promise<{ deviceId: string; createdAtMs?: number }[]> {
  const r = await sshAsNode(gatewayRpcCli(runtime, PORT, ['devices', 'list', '--json']));
  expect(r.code, `${runtime.id} devices list:\n${r.stdout}\n${r.stderr}`).toBe(0);
  return firstJson<{ paired: { deviceId: string; createdAtMs?: number }[] }>(r.stdout, 'devices list').paired;
}

async function sessionIds(runtime: GatewayRuntime): Promise<string[]> {
  const r = await sshAsNode(gatewayCli(runtime, ['sessions', '--json']));
  expect(r.code, `${runtime.id} sessions --json:\n${r.stdout}\n${r.stderr}`).toBe(0);
  const doc = firstJson<{ sessions?: { sessionId?: string }[] }>(r.stdout, 'sessions --json');
  return (doc.sessions ?? []).map((s) => s.sessionId ?? '');
}

/** The openclaw version the machine's image holds (its package.json), read on the machine. */
async function installedVersion(): Promise<string> {
  const r = await sshAsNode(['node', '-p', `require('/app/node_modules/openclaw/package.json').version`]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split('\n').at(-1)!;
}

/** The double's log buffer (`fly logs --no-tail`): every machine's and container's lines, in order. */
async function flyLogs(): Promise<string[]> {
  const r = await run('flyctl', ['logs', '-a', APP, '--no-tail'], { env: { ...process.env, ...fake!.env }, timeoutMs: 3 * MIN, check: false });
  assertNoSecrets(r.stdout + r.stderr, secrets, 'fly logs');
  return r.stdout.split('\n').filter(Boolean);
}

/** Both lines of a finished start of this release, in the machine's current container (after `mark`). */
async function started(runtime: GatewayRuntime, mark?: LogMark): Promise<void> {
  await waitForLog(fake!.dir, machine().id, runtime.listeningLine, 8 * MIN, mark);
  await waitForLog(fake!.dir, machine().id, runtime.readyLine!, 8 * MIN, mark);
}

describe('openclaw → openclaw upgrade journey against the real images (podman)', () => {
  beforeAll(async () => {
    await ensurePodman();
    await ensureNodeBaseImage(24);
    projectDir = await step('init', () => initCanonical(['--runtime', OLDER.id], { OPENAI_API_KEY: undefined }));
    secrets = [...Object.values(TEST_SECRETS), ...Object.values(projectSecretValues(projectDir))];
    hostPort = await freePort();
    fake = createPodmanFly<Fake>(projectDir, hostPort, 8 * MIN);
  }, 10 * MIN);

  afterAll(async () => {
    await disposePodmanFly(fake, projectDir);
    console.log(`openclaw upgrade journey timings (s): ${JSON.stringify(timings)}`);
  }, 5 * MIN);

  it(`deploy ${OLDER.id} → pair a device, write a session → upgrade --to ${NEWER.id} → same device, same session → rollback → ${OLDER.id} on its own state/, nothing deleted`, async () => {
    // 1. 2026.9.5 deployed, its start finished
    const deploy = await step('deploy', () => cli(['deploy', '--yes', '--json'], 40 * MIN));
    expect(deploy.code, `${deploy.stdout}\n${deploy.stderr}`).toBe(0);
    await started(OLDER);
    expect(await installedVersion()).toBe('2026.9.5');

    // 2. A paired device and a session, by the real 2026.9.5. OpenClaw's CLI connects without a device
    // identity (clawdbot's paired itself); a node host does present one, and a loopback client is
    // paired silently (docs/gateway/pairing.md "Silent local pairing"): one runs for a while, then stops.
    const listed = await step('devices (2026.9.5)', () => cli(['devices', '--json']));
    expect(listed.code, `${listed.stdout}\n${listed.stderr}`).toBe(0);
    await step('node host pairs', () => sshAsNode(['timeout', '45', ...gatewayCli(OLDER, ['node', 'run', '--host', '127.0.0.1', '--port', String(PORT)])], 3 * MIN));
    const pairedBefore = await pairedDevices(OLDER);
    expect(pairedBefore.length).toBeGreaterThan(0);
    const device = pairedBefore[0]!;
    // A session, through the gateway (aimed at its port as clawdfly aims openclaw's CLI: by env; it
    // dials 18789 otherwise). The model call fails offline; the session is kept anyway.
    const agent = await step('agent session', () => sshAsNode(gatewayRpcCli(OLDER, PORT, ['agent', '--agent', 'main', '--session-id', SESSION_ID, '--message', 'remember this', '--json']), 5 * MIN));
    const sessionsBefore = await sessionIds(OLDER);
    expect(sessionsBefore.length, `no session after openclaw agent (exit ${agent.code}): ${tail(agent.stdout + agent.stderr, 15)}`).toBeGreaterThan(0);
    expect(existsSync(onVolume('/data/state/openclaw.sqlite'))).toBe(true);
    const stateBefore = readdirSync(onVolume('/data/state')).filter((n) => !/-(wal|shm)$/.test(n)).sort();
    const before = { image: machine().config.image, digest: machine().image_ref?.digest, cmd: machine().config.init?.cmd };
    expect(before.digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    // 3. upgrade to 2026.9.6: a new image, the same state dir, the same device and session
    const upgrade = await step('upgrade', () => cli(['upgrade', '--to', NEWER.id, '--yes', '--json'], 40 * MIN));
    expect(upgrade.code, `${upgrade.stdout}\n${upgrade.stderr}`).toBe(0);
    expect(json<{ to: { runtime: string } }>(upgrade).to.runtime).toBe(NEWER.id);
    expect(machine().image_ref?.digest).not.toBe(before.digest);
    await started(NEWER);
    expect(await installedVersion()).toBe('2026.9.6');
    expect((await pairedDevices(NEWER)).map((d) => d.deviceId)).toContain(device.deviceId);
    expect(await sessionIds(NEWER)).toEqual(expect.arrayContaining(sessionsBefore));
    expect((await pairedDevices(NEWER)).find((d) => d.deviceId === device.deviceId)).toMatchObject({ createdAtMs: device.createdAtMs });

    // 4. rollback: 2026.9.5's exact image, on its own state/ again, with the device and the session
    const mark = await logMark(fake!.dir, machine().id);
    const linesBefore = (await flyLogs()).length;
    const rollback = await step('rollback', () => cli(['rollback', '--yes', '--json'], 20 * MIN));
    expect(rollback.code, `${rollback.stdout}\n${rollback.stderr}`).toBe(0);
    expect(machine().image_ref?.digest).toBe(before.digest);
    expect(machine().config.init?.cmd).toEqual(before.cmd);
    await started(OLDER, mark);
    expect(await installedVersion()).toBe('2026.9.5');
    // nothing of 2026.9.5's store deleted (before the pair fix: `rm -rf /data/state` after its verification)
    expect(existsSync(onVolume('/data/state/openclaw.sqlite')), `/data after the rollback: ${readdirSync(onVolume('/data')).join(' ')}`).toBe(true);
    for (const name of stateBefore) expect(existsSync(onVolume(`/data/state/${name}`)), `/data/state/${name}`).toBe(true);
    expect((await pairedDevices(OLDER)).find((d) => d.deviceId === device.deviceId), 'the device paired on 2026.9.5, on its own store again').toMatchObject({ createdAtMs: device.createdAtMs });
    expect(await sessionIds(OLDER)).toEqual(expect.arrayContaining(sessionsBefore));
    const devicesBack = await cli(['devices', '--json']);
    expect(devicesBack.code, `${devicesBack.stdout}\n${devicesBack.stderr}`).toBe(0);
    expect(json<{ paired: { deviceId: string }[] }>(devicesBack).paired.map((d) => d.deviceId)).toContain(device.deviceId);
    // 2026.9.6 was held (frozen) from the moment its state was put back until its machine was stopped:
    // it never ran again, so it never shut down (a shutdown writes its stores, which by then were 2026.9.5's)
    const rollbackLines = (await flyLogs()).slice(linesBefore);
    expect(rollbackLines.filter((l) => /\[shutdown\]/.test(l)), rollbackLines.join('\n')).toEqual([]);
    expect(existsSync(onVolume(WATCHDOG_HOLD_FILE)), 'the hold is released once 2026.9.5 is verified').toBe(false);
    // the newer gateway's set-aside copy is gone (the rollback's backup holds it); nothing else of clawdfly's left
    expect(readdirSync(onVolume('/data')).filter((f) => f.startsWith('.clawdfly-'))).toEqual([]);

    for (const inv of fake!.invocations()) assertNoSecrets(inv.argv.join('\n'), secrets, `flyctl argv ${inv.argv.slice(0, 3).join(' ')}`);
  }, 120 * MIN);
});
