/**
 * The Signal image variant (`init --signal --signal-account <+number>`), really built: Java from
 * Debian's archive, signal-cli from the SIGNAL_CLI_URL build argument, here a local stand-in of
 * the GitHub release (test/support/signal-cli-standin.ts) served on the host's loopback, which the
 * build reaches through `--network host`. The image's layers up to the gateway's install are the
 * plain image's (same build cache). Then, as Fly runs the machine (2048 MB from fly.toml):
 * - the gateway boots with the Signal channel configured and starts signal-cli's daemon, through
 *   the wrapper that keeps signal-cli's data on the volume (/data/signal-cli);
 * - the command `clawdfly channels login signal` sends over ssh (recorded by the flyctl double)
 *   runs in the image, as the gateway's user, and links into the volume.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flyMachineOptions, initCanonical, removeCanonicalDirs, shellSplit } from './project.js';
import { buildImage, runMachine, type BuildResult, type Machine } from '../support/podman.js';
import { startSignalCliStandIn, type SignalCliStandIn } from '../support/signal-cli-standin.js';
import { APP, cleanupAll, deployed } from '../operate/setup.js';

const MIN = 60_000;
const ACCOUNT = '+15551234567';
/** The machine's memory (fly.toml [[vm]]): the gateway and signal-cli must fit under it. */
const VM_MEMORY_MB = 2048;
const LISTENING = /\[gateway\] listening on ws:\/\/0\.0\.0\.0:3000/;
const MISSING_MODULE = /Cannot find (?:module|package)|ERR_MODULE_NOT_FOUND/;

let standIn: SignalCliStandIn;
let dir: string;
let image: string;
let build: BuildResult;
let volume: string;
let m: Machine | undefined;

beforeAll(async () => {
  standIn = await startSignalCliStandIn();
  dir = await initCanonical(['--signal-account', ACCOUNT]);
  build = await buildImage(dir, 'localhost/clawdfly-test-signal:latest', {
    buildArgs: { SIGNAL_CLI_URL: standIn.url },
    // the port changes every run, the tarball does not
    cacheKeyBuildArgs: { SIGNAL_CLI_URL: `stand-in sha256:${standIn.tarballSha256}` },
  });
  image = `localhost/clawdfly-test-cache:${build.hash.slice(0, 32)}`;
  console.log(`signal image ${image}: ${build.cached ? 'cached' : `built in ${build.seconds.toFixed(0)} s`}`);
}, 45 * MIN);

afterAll(async () => {
  await m?.remove().catch(() => undefined);
  await standIn?.close();
  if (volume) rmSync(volume, { recursive: true, force: true });
  removeCanonicalDirs();
  cleanupAll();
}, 5 * MIN);

describe('the Signal image variant, built against a local signal-cli stand-in', () => {
  it('built from the stand-in URL (or the cached image of the same tarball)', () => {
    if (!build.cached) expect(standIn.requests).toEqual(['/signal-cli-0.13.12.tar.gz']);
    const dockerfile = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    // Java + signal-cli come after the gateway's install: the plain image's layers are reused
    expect(dockerfile.indexOf('RUN npm ci')).toBeLessThan(dockerfile.indexOf('openjdk-17-jre-headless'));
  }, MIN);

  it('boots the gateway with the Signal channel configured (2048 MB); signal-cli keeps its data on /data', async () => {
    volume = mkdtempSync(join(tmpdir(), 'clawdfly-signal-vol-'));
    const opts = flyMachineOptions(dir, { image, volumeDir: volume, name: `signal-${process.pid}` });
    expect(opts.memoryMb).toBe(VM_MEMORY_MB);
    m = await runMachine(opts);
    await m.waitForLog(LISTENING, 6 * MIN);
    // the gateway started signal-cli's daemon through the wrapper, with the account from init
    const calls = join(volume, 'signal-cli', 'stand-in-calls.log');
    const deadline = Date.now() + 2 * MIN;
    while (!existsSync(calls) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
    expect(readFileSync(calls, 'utf8')).toMatch(new RegExp(`^config=/data/signal-cli account=\\${ACCOUNT} args=daemon --http 127\\.0\\.0\\.1:8080`, 'm'));
    await m.waitForLog(/stand-in daemon listening on 127\.0\.0\.1:8080/, 2 * MIN);
    const config = JSON.parse(readFileSync(join(volume, 'clawdbot.json'), 'utf8'));
    expect(config.channels.signal).toMatchObject({ account: ACCOUNT, cliPath: '/usr/local/bin/signal-cli' });
    expect(statSync(join(volume, 'signal-cli')).uid).toBe(1000);
    const logs = await m.logs();
    expect(logs).not.toMatch(MISSING_MODULE);
    expect((await m.inspect()).running).toBe(true);
    expect((await fetch(`${m.url}/`)).status).toBe(200);
    expect(await m.peakMemoryMb()).toBeLessThan(VM_MEMORY_MB);
    // the JVM is there for the real signal-cli
    const java = await m.exec(['java', '-version']);
    expect(java.code).toBe(0);
    expect(java.stderr).toMatch(/openjdk version "17\./);
  }, 10 * MIN);

  it('`clawdfly channels login signal` sends a command over ssh that links signal-cli into the volume', async () => {
    if (!m) throw new Error('the machine did not start (see the test before)');
    // What the CLI sends, recorded by the flyctl double (its host has no signal-cli: that run fails)
    const d = await deployed({ init: ['--signal-account', ACCOUNT] });
    const mark = d.mark();
    const r = await d.cli(['channels', 'login', 'signal']);
    const ssh = d.since(mark).filter((a) => a[0] === 'ssh');
    expect(ssh).toEqual([['ssh', 'console', '-a', APP, '--machine', d.machineId, '--user', 'node', '--pty', '-C', `/usr/local/bin/signal-cli --config /data/signal-cli link -n ${APP}`]]);
    expect(r.stderr).toMatch(/sgnl:\/\/linkdevice/);

    // The same command in the real image, as the same user (hallpass runs -C without a shell)
    const argv = shellSplit(ssh[0]![ssh[0]!.length - 1]!);
    const linked = await m.exec(argv, undefined, { user: 'node' });
    expect(linked.code, linked.stderr).toBe(0);
    expect(linked.stdout).toMatch(/^sgnl:\/\/linkdevice\?/m);
    expect(JSON.parse(readFileSync(join(volume, 'signal-cli', 'data', 'accounts.json'), 'utf8')).accounts[0].number).toBe(ACCOUNT);
    expect(statSync(join(volume, 'signal-cli', 'data', 'accounts.json')).uid).toBe(1000);
    expect(readFileSync(join(volume, 'signal-cli', 'stand-in-calls.log'), 'utf8')).toMatch(new RegExp(`^config=/data/signal-cli account= args=link -n ${APP}$`, 'm'));
  }, 5 * MIN);
});
