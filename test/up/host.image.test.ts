/**
 * `clawdfly up --local` on the host, against the REAL gateway on Node 22 (test/support's
 * ensureNode22): the real CLI installs the project's runtime bundle, seeds the config, runs the
 * gateway on loopback, prints the Control UI URL when it listens, answers GET / with 200, and
 * stops cleanly on Ctrl-C (SIGINT → exit 0) with its state in .clawdfly/local-data.
 *
 * Boots are expensive (cold 40–170 s under load), so the project lives at a fixed cache path:
 * its installed runtime bundle and local-data/tmp (the jiti transpile cache, keyed by absolute
 * path) survive between runs and every other file is rewritten by a fresh `init` each run.
 * A clean machine pays one npm ci and one cold boot; later runs are warm.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertNoSecrets, projectSecrets, runCli, TEST_SECRETS } from '../helpers/cli.js';
import { cachePath, withLock } from '../support/util.js';
import { ensureNode22 } from '../support/real-gateway.js';
import { freePort } from '../support/podman.js';
import { alive, pruneProjectExcept, startCli, type RunningCli } from '../support/running-cli.js';

const BOOT_MS = 12 * 60_000;
const KEEP = new Set(['.clawdfly/local-runtime', '.clawdfly/local-data/tmp']);

/** Empties the cached project except the runtime bundle and the warm TMPDIR, then runs the real init. */
async function freshProject(dir: string): Promise<void> {
  await pruneProjectExcept(dir, KEEP);
  const r = await runCli(['init', '--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'up-host-test', '--region', 'iad'], {
    env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY, OPENAI_API_KEY: TEST_SECRETS.OPENAI_API_KEY, CLAWDBOT_GATEWAY_TOKEN: undefined, DISCORD_BOT_TOKEN: undefined, TELEGRAM_BOT_TOKEN: undefined },
  });
  if (r.code !== 0) throw new Error(`init failed (${r.code}): ${r.stderr}`);
}

/** The real CLI as a long-running process (runCli waits for the exit). */
function startUp(args: string[]): RunningCli {
  return startCli(args, { ...process.env, NO_COLOR: '1', CI: 'true' });
}

describe('clawdfly up --local on the host (real gateway, Node 22)', () => {
  const dir = cachePath('up-host', 'gateway');
  let node22 = '';
  let release: (() => void) | undefined;
  const running: RunningCli[] = [];

  beforeAll(async () => {
    node22 = await ensureNode22();
    // One run at a time may use the cached project.
    await new Promise<void>((ready, failed) => {
      void withLock('up-host-project', () => new Promise<void>((r) => {
        release = r;
        ready();
      }), BOOT_MS).catch(failed);
    });
    await freshProject(dir);
  }, 5 * 60_000);

  afterAll(() => {
    for (const up of running) if (up.child.exitCode === null) up.child.kill('SIGKILL');
    release?.();
  });

  /** One boot: URL printed, GET / → 200, secrets nowhere on argv or in output, Ctrl-C → exit 0. */
  async function boot(extra: string[] = []): Promise<{ bootSeconds: number; up: RunningCli; gatewayPid: number }> {
    const port = await freePort();
    const up = startUp(['up', '--local', '--dir', dir, '--node', node22, '--port', String(port), ...extra]);
    running.push(up);
    const [, url] = await up.waitFor(/Control UI: (http:\/\/127\.0\.0\.1:\d+\/)/, BOOT_MS);
    expect(url).toBe(`http://127.0.0.1:${port}/`);
    const bootSeconds = Number(up.stdout().match(/Gateway listening after ([\d.]+) s/)![1]);
    // Loopback only: the gateway's own line names 127.0.0.1, never 0.0.0.0.
    const [, gatewayPid] = up.stdout().match(/\[gateway\] listening on ws:\/\/127\.0\.0\.1:\d+ \(PID (\d+)\)/)!;
    expect(up.stdout()).not.toMatch(/listening on ws:\/\/0\.0\.0\.0/);
    expect(up.stdout()).toMatch(/clawdfly token --copy --dir /);

    const res = await fetch(url!);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/Clawdbot Control/);

    // Secrets reach the gateway through its environment, never its argv (nor clawdfly's).
    const secrets = [...projectSecrets(dir), ...Object.values(TEST_SECRETS)];
    for (const pid of [Number(gatewayPid), up.child.pid!]) {
      assertNoSecrets(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), secrets, `argv of pid ${pid}`);
    }
    const token = parseToken(dir);
    expect(readFileSync(`/proc/${gatewayPid}/environ`, 'utf8').split('\0')).toContain(`CLAWDBOT_GATEWAY_TOKEN=${token}`);

    up.child.kill('SIGINT');
    const exit = await up.exitWithin(30_000);
    expect(exit.code, up.stderr()).toBe(0);
    expect(up.stdout()).toMatch(/received SIGINT; shutting down/);
    expect(up.stdout()).toMatch(/Stopped\. State kept in /);
    expect(alive(Number(gatewayPid))).toBe(false);
    assertNoSecrets(up.stdout() + up.stderr(), secrets, 'output of clawdfly up --local');
    return { bootSeconds, up, gatewayPid: Number(gatewayPid) };
  }

  function parseToken(d: string): string {
    const line = readFileSync(join(d, '.clawdfly', 'secrets.env'), 'utf8').split('\n').find((l) => l.startsWith('CLAWDBOT_GATEWAY_TOKEN='))!;
    return JSON.parse(line.slice(line.indexOf('=') + 1)) as string;
  }

  it('boots, serves the Control UI on loopback, stops on Ctrl-C with exit 0, keeps its state; the second boot is warm', async () => {
    const data = join(dir, '.clawdfly', 'local-data');
    const first = await boot();
    // State: the project's config seeded (0600) with the volume's paths moved into the local folder.
    const config = JSON.parse(readFileSync(join(data, 'clawdbot.json'), 'utf8')) as { agents: { defaults: { workspace: string } }; gateway: { mode: string } };
    expect(config.agents.defaults.workspace).toBe(join(data, 'workspace'));
    expect(config.gateway.mode).toBe('local');
    expect(statSync(join(data, 'clawdbot.json')).mode & 0o777).toBe(0o600);
    expect(first.up.stdout()).toMatch(/config: copied clawdbot\.json to .*local-data\/clawdbot\.json \(first run\)/);
    // What the gateway wrote itself lands in the state folder, and its transpile cache in local-data/tmp.
    expect(existsSync(join(data, 'update-check.json')) || existsSync(join(data, 'cron', 'jobs.json'))).toBe(true);
    expect((await readdir(join(data, 'tmp', 'jiti'))).length).toBeGreaterThan(100);
    // Never committed: the runtime bundle ignores itself; the image build context excludes .clawdfly.
    expect(readFileSync(join(dir, '.clawdfly', 'local-runtime', '.gitignore'), 'utf8')).toMatch(/^\*$/m);

    const second = await boot(['--verbose']);
    expect(second.up.stderr()).toMatch(/runtime bundle already installed/);
    expect(second.up.stderr()).toMatch(/config: kept .*clawdbot\.json/);
    console.log(`[up --local host] first boot ${first.bootSeconds} s, second boot ${second.bootSeconds} s`);
  }, 2 * BOOT_MS + 5 * 60_000);

  it('--node pointing at an older Node is refused with exit 2 before anything is written', async () => {
    const before = existsSync(join(dir, '.clawdfly', 'local-data')) ? await readdir(join(dir, '.clawdfly', 'local-data')) : [];
    const r = await runCli(['up', '--local', '--dir', dir, '--node', process.execPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`Node ${process.versions.node} at ${process.execPath} is too old for clawdbot@2026.1.24-3: it needs Node 22.12.0 or newer`);
    expect(r.stderr).toMatch(/→ --node \/path\/to\/node/);
    expect(r.stdout).toBe('');
    const after = existsSync(join(dir, '.clawdfly', 'local-data')) ? await readdir(join(dir, '.clawdfly', 'local-data')) : [];
    expect(after).toEqual(before);
  });
});
