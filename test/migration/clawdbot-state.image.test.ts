/**
 * What `clawdfly upgrade` (clawdbot → openclaw) can rely on, measured with the real packages on the
 * host (no container): a state dir made by clawdbot 2026.1.24-3 on Node 22 (a paired device, an agent
 * session), then openclaw 2026.9.6 on Node 24 with OPENCLAW_STATE_DIR pointing at it.
 *
 * - openclaw reads the dir as is, finds the legacy clawdbot.json, and on its first start migrates
 *   devices, device-auth, cron and sessions into SQLite by itself (no `doctor --fix` needed, unless a
 *   legacy agents/<id>/agent/auth-profiles.json exists: then the start fails until it has run).
 * - the paired device stays paired (same id and pairing time), the session is still listed; its
 *   transcript moves to agents/<id>/session-sqlite-import-archive/ (same bytes).
 * - clawdbot.json is left byte for byte.
 * - the migration is one-way: clawdbot started again on that dir listens, but its sessions and
 *   paired devices are gone (renamed *.migrated). A rollback must restore /data from the backup
 *   taken before the upgrade.
 * Full evidence (on-disk diffs, doctor --fix, the auth-profiles case): shared notes
 * FINDINGS-openclaw-migration.md of the ocimage helper, summarised here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRuntimeDir, ensureNode22, ensureNode24, ensureRuntime } from '../support/real-gateway.js';
import { freePort } from '../support/podman.js';
import { run, sleep, tail } from '../support/util.js';
import { RUNTIMES } from '../../src/gateway/runtime.js';

const MIN = 60_000;
const CLAWDBOT = RUNTIMES['clawdbot@2026.1.24-3']!;
const OPENCLAW = RUNTIMES['openclaw@2026.9.6']!;
const TOKEN = 'migration-test-gateway-token-5d1e';

let root = '';
let state = '';
const children: ChildProcess[] = [];

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * The gateway's environment, built from nothing: the runner's VITEST=true would silence openclaw's
 * console, and no CLAWDBOT_* may reach openclaw (it only reads OPENCLAW_*).
 */
function envFor(runtime: typeof CLAWDBOT, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    LANG: 'C.UTF-8',
    HOME: join(root, `home-${runtime.packageName}`),
    TMPDIR: join(root, `tmp-${runtime.packageName}`),
    NO_COLOR: '1',
    ANTHROPIC_API_KEY: 'test-anthropic-migration',
    [runtime.env.stateDir]: state,
    [runtime.env.gatewayToken]: TOKEN,
    [runtime.env.gatewayPort]: String(port),
    [runtime.env.disableBonjour]: '1',
    // one process, logging to our pipe (as test/support/real-gateway.ts runs clawdbot)
    [`${runtime.packageName.toUpperCase()}_NO_RESPAWN`]: '1',
  };
  for (const k of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE']) if (process.env[k]) env[k] = process.env[k];
  return env;
}

interface Gateway {
  child: ChildProcess;
  output: () => string;
  waitFor(re: RegExp, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

function startGateway(node: string, entry: string, env: NodeJS.ProcessEnv, port: number): Gateway {
  const child = spawn(node, [entry, 'gateway', '--allow-unconfigured', '--port', String(port), '--bind', 'loopback'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  return {
    child,
    output: () => out,
    async waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${re} (${child.exitCode !== null ? `exit ${child.exitCode}` : 'timeout'})\n${tail(out, 40)}`);
        await sleep(250);
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(30_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

async function cliJson<T>(node: string, entry: string, args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  const r = await run(node, [entry, ...args], { env, check: false, timeoutMs: 3 * MIN });
  if (r.code !== 0) throw new Error(`${args.join(' ')} exit ${r.code}\n${tail(r.stdout + r.stderr)}`);
  return JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as T;
}

interface DeviceList { paired: { deviceId: string; createdAtMs: number }[] }
interface SessionList { count: number; sessions: { key: string; sessionId: string }[] }

let node22 = '';
let node24 = '';
let clawdbot = '';
let openclaw = '';

beforeAll(async () => {
  [node22, node24, clawdbot, openclaw] = await Promise.all([ensureNode22(), ensureNode24(), ensureRuntime(), ensureRuntime(await defaultRuntimeDir(OPENCLAW.id))]);
  root = mkdtempSync(join(tmpdir(), 'clawdfly-migration-'));
  state = join(root, 'state');
  for (const d of ['state', 'home-clawdbot', 'home-openclaw', 'tmp-clawdbot', 'tmp-openclaw']) await mkdir(join(root, d), { recursive: true });
  // clawdfly's clawdbot config, anthropic only (an openai/* model makes openclaw install its codex plugin at start, offline it never listens)
  writeFileSync(
    join(state, CLAWDBOT.configFileName),
    JSON.stringify({
      agents: { defaults: { model: { primary: 'anthropic/claude-opus-4-5' }, workspace: join(state, 'workspace') }, list: [{ id: 'main', default: true }] },
      gateway: { mode: 'local', bind: 'lan' },
    }, null, 2) + '\n',
  );
}, 20 * MIN);

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('openclaw 2026.9.6 on a clawdbot 2026.1.24-3 state dir (real packages, host)', () => {
  it('keeps the paired device and the session, migrating them into SQLite on its first start; clawdbot then lost both', async () => {
    // 1. clawdbot makes the state: a paired device (its CLI, auto-approved on loopback) and a session
    const cbPort = await freePort();
    const cbEnv = envFor(CLAWDBOT, cbPort);
    const cb = startGateway(node22, clawdbot, cbEnv, cbPort);
    await cb.waitFor(CLAWDBOT.listeningLine, 5 * MIN);
    const before = await cliJson<DeviceList>(node22, clawdbot, ['devices', 'list', '--json', `--url=ws://127.0.0.1:${cbPort}`], cbEnv);
    expect(before.paired).toHaveLength(1);
    const device = before.paired[0]!;
    // the model call fails offline; the session is written before it
    await run(node22, [clawdbot, 'agent', '--agent', 'main', '--session-id', 'migration-test', '--message', 'hello before the upgrade', '--timeout', '60', '--json'], { env: cbEnv, check: false, timeoutMs: 3 * MIN });
    await cb.stop();
    const sessionsDir = join(state, 'agents', 'main', 'sessions');
    const store = JSON.parse(readFileSync(join(sessionsDir, 'sessions.json'), 'utf8')) as Record<string, { sessionId: string }>;
    const sessionId = store['agent:main:main']!.sessionId;
    const transcript = sha(join(sessionsDir, `${sessionId}.jsonl`));
    const configBytes = sha(join(state, CLAWDBOT.configFileName));
    expect(existsSync(join(state, 'devices', 'paired.json'))).toBe(true);

    // 2. openclaw on the same dir, as is: it finds the legacy config file and starts
    const ocPort = await freePort();
    const ocEnv = envFor(OPENCLAW, ocPort);
    const file = await run(node24, [openclaw, 'config', 'file'], { env: ocEnv, timeoutMs: 3 * MIN });
    expect(file.stdout.trim().split('\n').pop()).toBe(join(state, CLAWDBOT.configFileName));
    const oc = startGateway(node24, openclaw, ocEnv, ocPort);
    await oc.waitFor(/\[gateway\] ready/, 8 * MIN);
    expect(oc.output()).toMatch(OPENCLAW.listeningLine);
    expect(oc.output()).toMatch(/device pairing store migrated to SQLite: imported 1 paired/);
    expect((await fetch(`http://127.0.0.1:${ocPort}/`)).status).toBe(200);

    // the same device, paired at the same moment; the session listed (no --url: it would need --token on argv)
    const after = await cliJson<DeviceList>(node24, openclaw, ['devices', 'list', '--json'], ocEnv);
    expect(after.paired.map((d) => [d.deviceId, d.createdAtMs])).toContainEqual([device.deviceId, device.createdAtMs]);
    const sessions = await cliJson<SessionList>(node24, openclaw, ['sessions', '--json'], ocEnv);
    expect(sessions.sessions.map((s) => [s.key, s.sessionId])).toContainEqual(['agent:main:main', sessionId]);
    await oc.stop();

    // on disk: moved, not lost; the config untouched
    expect(sha(join(state, CLAWDBOT.configFileName))).toBe(configBytes);
    expect(existsSync(join(state, 'devices', 'paired.json'))).toBe(false);
    expect(existsSync(join(state, 'devices', 'paired.json.migrated'))).toBe(true);
    expect(existsSync(join(state, 'state', 'openclaw.sqlite'))).toBe(true);
    const archive = join(state, 'agents', 'main', 'session-sqlite-import-archive');
    const archived = readdirSync(archive).find((f) => f.includes(`${sessionId}.jsonl.imported-`));
    expect(archived, readdirSync(archive).join(', ')).toBeDefined();
    expect(sha(join(archive, archived!))).toBe(transcript);
    expect(readdirSync(sessionsDir)).toEqual([]);

    // 3. one way: clawdbot on the migrated dir still starts, but its sessions are gone
    const back = startGateway(node22, clawdbot, cbEnv, cbPort);
    await back.waitFor(CLAWDBOT.listeningLine, 5 * MIN);
    const lost = await cliJson<SessionList>(node22, clawdbot, ['sessions', '--json'], cbEnv);
    expect(lost.count).toBe(0);
    await back.stop();
  }, 25 * MIN);
});
