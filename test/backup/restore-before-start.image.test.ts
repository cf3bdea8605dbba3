/**
 * Restore before start, on the real OpenClaw image (the flyctl double with FAKEFLY_BACKEND=podman:
 * `ssh console -C` is `podman exec` into the machine's container, `machine restart` recreates it on
 * the same volume, and a crashed container is restarted by the machine's restart policy).
 *
 *   1. restore while the gateway runs and a process of the gateway user keeps writing to /data:
 *      nothing it writes during the restore ends up in the restored tree (it lands in the old state,
 *      moved aside at boot before the gateway starts);
 *   2. a restore whose gateway refuses to start (a config with an unknown key) is reverted by the
 *      machine itself: its next boot puts the previous state back and the gateway runs on it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { CANONICAL_FLAGS, openclawProject, projectSecretValues, type CanonicalProject } from '../image/project.js';
import { ensureNodeBaseImage, ensurePodman, freePort, podman } from '../support/podman.js';
import { createPodmanFly, disposePodmanFly, failedFlyCalls, waitForContainerLog } from '../support/podman-fly.js';
import { sleep } from '../support/util.js';
import { agentCommand, agentInput } from '../../src/remote/agent-call.js';
// @ts-expect-error plain ESM without types
import { podmanContainer } from '../fakefly/lib/backend-podman.mjs';

const MIN = 60_000;
const APP = CANONICAL_FLAGS[CANONICAL_FLAGS.indexOf('--app') + 1]!;
const CONFIG = 'openclaw.json';

interface Fake {
  invocations(): { argv: string[]; exitCode: number | null }[];
  dir: string;
  env: Record<string, string>;
  machines(app: string): { id: string; state: string }[];
  machineFsPath(app: string, machineId: string, path: string): string;
  cleanup(): void;
}

let fake: Fake | undefined;
let project: CanonicalProject;
const temps: string[] = [];

async function cli(args: string[], timeoutMs = 10 * MIN): Promise<CliResult> {
  return runCli([...args, '--dir', project.dir], { env: { NO_COLOR: '1', ...fake!.env }, timeoutMs, secrets: Object.values(projectSecretValues(project.dir)) });
}

function machineId(): string {
  return fake!.machines(APP)[0]!.id;
}

function data(): string {
  return fake!.machineFsPath(APP, machineId(), '/data');
}

function temp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

/** Stands in for the old gateway: writes a new file every few ms and appends to notes.txt, until its container goes. */
const OLD_GATEWAY_WRITER = `
const fs = require('fs');
let n = 0;
setInterval(() => {
  try {
    fs.mkdirSync('/data/written-during-restore', { recursive: true });
    fs.writeFileSync('/data/written-during-restore/' + (n++), 'x');
    fs.appendFileSync('/data/notes.txt', 'appended by the old gateway\\n');
  } catch {}
}, 5);
`;

/**
 * The archive with `edit` applied to its extracted tree, packed again by clawdfly's own archive
 * script (host Node, as a machine would run it), so that its manifest matches.
 */
function repack(file: string, edit: (dir: string) => void): string {
  const dir = temp('clawdfly-repack-');
  expect(spawnSync('tar', ['-xzf', file, '-C', dir]).status).toBe(0);
  const manifest = JSON.parse(readFileSync(join(dir, '.clawdfly-backup.json'), 'utf8')) as { app: string; runtime: string; machine: string; image: string; excluded: string[] };
  rmSync(join(dir, '.clawdfly-backup.json'));
  edit(dir);
  const meta = { app: manifest.app, runtime: manifest.runtime, machine: manifest.machine, image: manifest.image, stateDir: '/data', excludes: [], excludedLabels: manifest.excluded };
  const [, ...args] = agentCommand('backup', dir, meta);
  const r = spawnSync(process.execPath, args, { input: agentInput(), maxBuffer: 256 * 1024 * 1024 });
  expect(r.status, r.stderr.toString()).toBe(0);
  const out = join(temp('clawdfly-broken-'), 'broken.tar.gz');
  writeFileSync(out, r.stdout);
  return out;
}

/** Drives the double's view of the machine (an exited container is restarted by its policy when flyctl next looks). */
function flyctlStatus(): void {
  spawnSync('flyctl', ['machine', 'list', '-a', APP, '--json'], { cwd: project.dir, env: { ...process.env, ...fake!.env }, encoding: 'utf8' });
}

describe('restore applied before the gateway starts, on the real OpenClaw image (podman)', () => {
  beforeAll(async () => {
    await ensurePodman();
    await ensureNodeBaseImage(24);
    project = await openclawProject();
    fake = createPodmanFly<Fake>(project.dir, await freePort(), 3 * MIN);
  }, 60 * MIN);

  afterAll(async () => {
    await disposePodmanFly(fake, project?.dir ?? '');
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  }, 5 * MIN);

  it('restore while the gateway runs and writes: nothing it writes during the restore ends up in the restored tree', async () => {
    const deploy = await cli(['deploy', '--yes', '--json'], 25 * MIN);
    expect(deploy.code, `${deploy.stderr}\n${deploy.stdout}\n${failedFlyCalls(fake!)}`).toBe(0);
    writeFileSync(join(data(), 'notes.txt'), 'written before the backup\n');
    spawnSync('chown', ['1000:1000', join(data(), 'notes.txt')]);
    const b = await cli(['backup', '--json']);
    expect(b.code, b.stderr).toBe(0);
    const { file } = JSON.parse(b.stdout) as { file: string };

    await podman(['exec', '-d', '--user', '1000', podmanContainer(fake!.dir, machineId()) as string, 'node', '-e', OLD_GATEWAY_WRITER]);
    while (!existsSync(join(data(), 'written-during-restore', '20'))) await sleep(200);

    const r = await cli(['restore', file, '--yes', '--keep-previous', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { previousOnVolume: string };

    // the restored tree: the archive's notes.txt, nothing of the writer
    expect(readFileSync(join(data(), 'notes.txt'), 'utf8')).toBe('written before the backup\n');
    expect(existsSync(join(data(), 'written-during-restore'))).toBe(false);
    // the writer did write, to the end: into the old state, kept aside (--keep-previous)
    const previous = join(data(), report.previousOnVolume.slice('/data/'.length));
    const written = readdirSync(join(previous, 'written-during-restore')).length;
    expect(written).toBeGreaterThan(20);
    expect(readFileSync(join(previous, 'notes.txt'), 'utf8')).toContain('appended by the old gateway');
    expect(readdirSync(data()).filter((n) => n.startsWith('.clawdfly-') || n.startsWith('.failed-restore-'))).toEqual([]);
    console.log(`[restore before start] the old gateway's stand-in wrote ${written} files during the restore, none in the restored tree`);
  }, 40 * MIN);

  it('a restore whose gateway refuses to start is reverted by the machine itself', async () => {
    const before = readFileSync(join(data(), CONFIG), 'utf8');
    const b = await cli(['backup', '--json']);
    expect(b.code, b.stderr).toBe(0);
    const { file } = JSON.parse(b.stdout) as { file: string };
    // the gateway refuses a config with an unknown key (strict validation): exit 1 at start
    const broken = repack(file, (dir) => {
      const config = JSON.parse(readFileSync(join(dir, CONFIG), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, CONFIG), JSON.stringify({ ...config, clawdflyTestUnknownKey: true }, null, 2));
    });

    const r = await cli(['restore', broken, '--yes', '--verify-timeout', '240', '--json']);
    expect(r.code).toBe(1);
    // said as a warning when the verification gave up, or as the error (--json: on stdout) when the
    // reverted gateway was already listening by then
    expect(r.stdout + r.stderr).toMatch(/did not start on the restored state/);

    // the machine puts the previous state back by itself (its restart policy boots it again after
    // the crash; the double applies it when flyctl looks), and its gateway is ready on it again
    const reverted = () => readdirSync(data()).some((n) => n.startsWith('.failed-restore-'));
    for (let i = 0; !reverted(); i++) {
      if (i > 300) throw new Error(`no revert seen: ${readdirSync(data()).join(' ')}`);
      flyctlStatus();
      await sleep(1000);
    }
    await waitForContainerLog(fake!.dir, machineId(), /\[clawdfly\] restore reverted: the machine booted again before the gateway was confirmed/, 5 * MIN);
    await waitForContainerLog(fake!.dir, machineId(), /\[gateway\] ready\b/, 5 * MIN);
    expect(readFileSync(join(data(), CONFIG), 'utf8')).toBe(before);
    const failed = readdirSync(data()).filter((n) => n.startsWith('.failed-restore-'));
    expect(failed.length).toBe(1);
    expect(readFileSync(join(data(), failed[0]!, CONFIG), 'utf8')).toContain('clawdflyTestUnknownKey');
  }, 40 * MIN);
});

