/**
 * The upgrade journey, for real (#14, "Proven on the real things"): a clawdbot deployment on the
 * flyctl double whose machines are real containers of the generated images (FAKEFLY_BACKEND=podman)
 * → a device paired and a session written by the real clawdbot on the machine → `clawdfly upgrade
 * --to openclaw` (the real openclaw image built, the state migrated by openclaw itself at its first
 * start) → the same device still paired, the session still listed, its transcript's bytes kept →
 * `clawdfly rollback` → the exact image and command from before, clawdbot listening again on the
 * state it left.
 *
 * One test, loopback only. The clawdbot image is the canonical one (cached by the image tests); the
 * openclaw image is built from the upgraded project (podman reuses openclaw.test.ts's layers up to
 * `npm ci`; see the note in beforeAll).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertNoSecrets, runCli, TEST_SECRETS, type CliResult } from '../helpers/cli.js';
import { canonicalProject, CANONICAL_FLAGS, projectSecretValues } from '../image/project.js';
import { ensureBaseImage, ensureNodeBaseImage, ensurePodman, freePort } from '../support/podman.js';
import { createPodmanFly, disposePodmanFly, failedFlyCalls, waitForContainerLog as waitForLog } from '../support/podman-fly.js';
import { run, tail } from '../support/util.js';
import { gatewayCli, gatewayRpcCli, RUNTIMES } from '../../src/gateway/runtime.js';
import { remoteCommand } from '../../src/fly/quote.js';

const MIN = 60_000;
const APP = CANONICAL_FLAGS[CANONICAL_FLAGS.indexOf('--app') + 1]!;
const CLAWDBOT = RUNTIMES['clawdbot@2026.1.24-3']!;
const OPENCLAW = RUNTIMES['openclaw@2026.9.6']!;
const PORT = 3000;
const SESSION_DIR = '/data/agents/main/sessions';
const ARCHIVE_DIR = '/data/agents/main/session-sqlite-import-archive';

interface Fake {
  dir: string;
  env: Record<string, string>;
  machines(app: string): MachineApi[];
  machineFsPath(app: string, machineId: string, path: string): string;
  invocations(): { argv: string[]; exitCode: number | null }[];
  cleanup(): void;
}

interface MachineApi {
  id: string;
  state: string;
  config: { image?: string; init?: { cmd?: string[] }; env?: Record<string, string> };
}

interface PairedRaw {
  deviceId: string;
  createdAtMs?: number;
}

let fake: Fake | undefined;
let projectDir = '';
let hostPort = 0;
/** Every secret value of the project, collected before the upgrade renames the token (same value). */
let secrets: string[] = [];
const timings: Record<string, number> = {};

function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  return fn().finally(() => {
    timings[name] = Math.round((Date.now() - t) / 100) / 10;
  });
}

/** The real CLI, every byte it printed checked for the project's secrets (runCli does). */
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

/** A path on the machine's volume, from the host. */
function onVolume(path: string): string {
  return fake!.machineFsPath(APP, machine().id, path);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * `fly ssh console --user node -C <argv>` through the double (a `podman exec` in the machine's
 * container, the gateway's env included), the way a user reaches the gateway's CLI.
 */
async function sshAsNode(argv: string[], timeoutMs = 3 * MIN): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await run('flyctl', ['ssh', 'console', '-a', APP, '--user', 'node', '-C', remoteCommand(argv)], { env: { ...process.env, ...fake!.env }, timeoutMs, check: false });
  assertNoSecrets(r.stdout + r.stderr, secrets, `output of ssh ${argv.slice(2, 4).join(' ')}`);
  return r;
}

/** The first JSON object in a gateway CLI's stdout (it may print plugin lines before it). */
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

/** The gateway's own `devices list --json` (raw: with createdAtMs), over ssh as node. */
async function rawDevices(runtime: typeof CLAWDBOT): Promise<PairedRaw[]> {
  // as clawdfly aims each gateway's CLI (openclaw refuses --url without --token: its port comes from its env)
  const r = await sshAsNode(gatewayRpcCli(runtime, PORT, ['devices', 'list', '--json']));
  expect(r.code, `${runtime.cliName} devices list:\n${r.stdout}\n${r.stderr}`).toBe(0);
  return firstJson<{ paired: PairedRaw[] }>(r.stdout, 'devices list').paired;
}

async function sessionIds(runtime: typeof CLAWDBOT): Promise<string[]> {
  const r = await sshAsNode(gatewayCli(runtime, ['sessions', '--json']));
  expect(r.code, `${runtime.cliName} sessions --json:\n${r.stdout}\n${r.stderr}`).toBe(0);
  const doc = firstJson<{ sessions?: { sessionId?: string }[] }>(r.stdout, 'sessions --json');
  return (doc.sessions ?? []).map((s) => s.sessionId ?? '');
}

/** Polls the live container's output for a line; fails fast with the log tail when it stops. */
function waitForContainerLog(re: RegExp, timeoutMs: number): Promise<string> {
  return waitForLog(fake!.dir, machine().id, re, timeoutMs);
}

async function getRoot(): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${hostPort}/`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

describe('upgrade journey against the real images (podman)', () => {
  beforeAll(async () => {
    await ensurePodman();
    await ensureBaseImage();
    // The upgrade builds the OpenClaw Dockerfile (FROM node:24…) inside `fly deploy`.
    await ensureNodeBaseImage(24);
    // The canonical clawdbot project and its image, shared with the image tests and journey.test.ts.
    const canonical = await step('init+image', () => canonicalProject());
    projectDir = canonical.dir;
    secrets = [...Object.values(TEST_SECRETS), ...Object.values(projectSecretValues(projectDir))];
    hostPort = await freePort();
    fake = createPodmanFly<Fake>(projectDir, hostPort, 5 * MIN);
  }, 25 * MIN);

  afterAll(async () => {
    await disposePodmanFly(fake, projectDir);
    console.log(`upgrade journey timings (s): ${JSON.stringify(timings)}`);
  }, 5 * MIN);

  it('deploy clawdbot → pair a device, write a session → upgrade --to openclaw → same device, same session → rollback → clawdbot on the same state', async () => {
    // 1. clawdbot deployed and listening
    const deploy = await step('deploy', () => cli(['deploy', '--yes', '--json'], 25 * MIN));
    expect(deploy.code, `${deploy.stderr}\n${deploy.stdout}\n${failedFlyCalls(fake!)}`).toBe(0);
    expect(json<{ ok: boolean }>(deploy).ok).toBe(true);
    await waitForContainerLog(CLAWDBOT.listeningLine, 3 * MIN);
    expect((await getRoot()).status).toBe(200);

    // 2. A paired device and a session, made by the real clawdbot on the machine.
    // The CLI is a local client: its first `devices list` pairs it (devices/paired.json).
    const listed = await step('devices (clawdbot)', () => cli(['devices', '--json']));
    expect(listed.code, listed.stderr).toBe(0);
    const pairedBefore = await rawDevices(CLAWDBOT);
    expect(pairedBefore).toHaveLength(1);
    const device = pairedBefore[0]!;
    expect(device.createdAtMs).toEqual(expect.any(Number));
    expect(json<{ paired: { deviceId: string }[] }>(listed).paired.map((d) => d.deviceId)).toEqual([device.deviceId]);
    expect(existsSync(onVolume('/data/devices/paired.json'))).toBe(true);
    // The model call fails offline (no route to any provider); the session is written anyway.
    await step('agent session', () => sshAsNode(gatewayCli(CLAWDBOT, ['agent', '--agent', 'main', '--session-id', 'upgrade-journey', '--message', 'remember this', '--json']), 3 * MIN));
    const transcripts = readdirSync(onVolume(SESSION_DIR)).filter((f) => f.endsWith('.jsonl'));
    expect(transcripts).toHaveLength(1);
    const sessionId = transcripts[0]!.replace(/\.jsonl$/, '');
    const transcript = readFileSync(onVolume(`${SESSION_DIR}/${transcripts[0]}`));
    const transcriptSha = sha256(transcript);
    expect(transcript.length).toBeGreaterThan(0);
    expect(await sessionIds(CLAWDBOT)).toEqual([sessionId]);

    const before = { image: machine().config.image, digest: machine().image_ref?.digest, cmd: machine().config.init?.cmd, flyToml: readFileSync(join(projectDir, 'fly.toml'), 'utf8') };
    expect(before.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(before.cmd?.join(' ')).toContain('gateway');

    // OpenClaw offline: any openai/* model makes it install its codex plugin at start, and it never
    // listens without network (FINDINGS, "Note for tests"). The user's config goes anthropic-only,
    // which also makes the migrated openclaw.json the one `init --runtime openclaw` writes: the image
    // the upgrade builds is then podman layer-cache hits on openclaw.test.ts's build.
    const configPath = join(projectDir, CLAWDBOT.configFileName);
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { agents: { defaults: { model: { fallbacks: string[] } } }; auth?: { profiles?: Record<string, unknown> } };
    config.agents.defaults.model.fallbacks = config.agents.defaults.model.fallbacks.filter((m) => !m.startsWith('openai/'));
    delete config.auth?.profiles?.['openai:default'];
    writeFileSync(configPath, JSON.stringify(config, null, 2) + '\n');

    // 3. upgrade: a new image running openclaw, config on /data, the state migrated by openclaw itself
    const upgrade = await step('upgrade', () => cli(['upgrade', '--to', 'openclaw', '--yes', '--json'], 30 * MIN));
    expect(upgrade.code, `${upgrade.stdout}\n${upgrade.stderr}`).toBe(0);
    const upgraded = json<{ ok: boolean; imageRef: string; config: string; rollbackTo: string; to: { runtime: string } }>(upgrade);
    expect(upgraded.to.runtime).toBe(OPENCLAW.id);
    expect(upgraded.config).toBe('/data/openclaw.json');
    expect(machine().config.image).not.toBe(before.image);
    expect(machine().config.env?.[OPENCLAW.env.stateDir]).toBe('/data');
    await waitForContainerLog(OPENCLAW.listeningLine, 5 * MIN);
    await waitForContainerLog(OPENCLAW.readyLine!, 5 * MIN);
    const root = await getRoot();
    expect(root.status).toBe(200);
    expect(root.body).toMatch(/OpenClaw/);
    expect(existsSync(onVolume('/data/openclaw.json'))).toBe(true);
    expect(existsSync(onVolume('/data/clawdbot.json'))).toBe(true);

    // the same device, still paired (now from openclaw's SQLite store): what the user sees, and the
    // gateway's own record (createdAtMs kept)
    const devicesNow = await step('devices (openclaw)', () => cli(['devices', '--json']));
    expect(devicesNow.code, `${devicesNow.stdout}\n${devicesNow.stderr}`).toBe(0);
    expect(json<{ paired: { deviceId: string }[] }>(devicesNow).paired.map((d) => d.deviceId)).toContain(device.deviceId);
    const afterUpgrade = await rawDevices(OPENCLAW);
    expect(afterUpgrade.find((d) => d.deviceId === device.deviceId), JSON.stringify(afterUpgrade)).toMatchObject({ deviceId: device.deviceId, createdAtMs: device.createdAtMs });
    // the session, still listed; its transcript's bytes archived by openclaw's import
    expect(await sessionIds(OPENCLAW)).toContain(sessionId);
    const archived = readdirSync(onVolume(ARCHIVE_DIR)).filter((f) => f.includes(sessionId) && /\.jsonl\.imported-\d+$/.test(f));
    expect(archived).toHaveLength(1);
    expect(sha256(readFileSync(onVolume(`${ARCHIVE_DIR}/${archived[0]}`)))).toBe(transcriptSha);

    // 4. rollback: the exact image (by its digest: a tag can be moved) and command from before,
    //    clawdbot on the state it left
    const rollbackStarted = new Date().toISOString();
    const rollback = await step('rollback', () => cli(['rollback', '--yes', '--json'], 15 * MIN));
    expect(rollback.code, `${rollback.stdout}\n${rollback.stderr}`).toBe(0);
    expect(machine().config.image).toBe(`registry.fly.io/${APP}@${before.digest}`);
    expect(machine().image_ref?.digest).toBe(before.digest);
    expect(machine().config.init?.cmd).toEqual(before.cmd);
    expect(readFileSync(join(projectDir, 'fly.toml'), 'utf8')).toBe(before.flyToml);
    await waitForContainerLog(CLAWDBOT.listeningLine, 3 * MIN);
    const back = await getRoot();
    expect(back.status).toBe(200);
    expect(back.body).toContain('Clawdbot Control');
    expect(existsSync(onVolume('/data/clawdbot.json'))).toBe(true);
    const devicesBack = await step('devices (rolled back)', () => cli(['devices', '--json']));
    expect(devicesBack.code, `${devicesBack.stdout}\n${devicesBack.stderr}`).toBe(0);
    expect(json<{ paired: { deviceId: string }[] }>(devicesBack).paired.map((d) => d.deviceId)).toContain(device.deviceId);
    const pairedAfter = await rawDevices(CLAWDBOT);
    expect(pairedAfter.find((d) => d.deviceId === device.deviceId), JSON.stringify(pairedAfter)).toMatchObject({ deviceId: device.deviceId, createdAtMs: device.createdAtMs });
    expect(await sessionIds(CLAWDBOT)).toEqual([sessionId]);
    expect(sha256(readFileSync(onVolume(`${SESSION_DIR}/${sessionId}.jsonl`)))).toBe(transcriptSha);

    // openclaw's own state/ (SQLite) is gone: it writes it again after the rollback set it aside,
    // while it still runs (ssh needs a started machine); the rollback removes it once clawdbot is verified
    console.log(`rollback started ${rollbackStarted}; /data after it: ${readdirSync(onVolume('/data')).sort().join(' ')}`);
    expect(existsSync(onVolume('/data/state'))).toBe(false);
    expect(readdirSync(onVolume('/data')).filter((f) => f.startsWith('.clawdfly-'))).toEqual([]);

    // 5. no secret on any flyctl argv (every output was checked as it came)
    for (const inv of fake!.invocations()) assertNoSecrets(inv.argv.join('\n'), secrets, `flyctl argv ${inv.argv.slice(0, 3).join(' ')}`);
  }, 60 * MIN);
});
