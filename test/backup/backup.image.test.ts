/**
 * Backup and restore against the real image and the real gateway: the flyctl double with
 * FAKEFLY_BACKEND=podman (`ssh console -C` is `podman exec -i --user root` into the machine's
 * container, `machine restart` recreates it on the same volume). The state script runs with the
 * image's own Node, as the volume's owner, through the image's own setpriv.
 *
 * write state (a paired device) → backup → destroy the volume's files → restore → the gateway
 * boots on the restored state and the device is still paired; no temp dir is left on the volume.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { canonicalProject, CANONICAL_FLAGS, projectSecretValues } from '../image/project.js';
import { ensureBaseImage, ensurePodman, freePort } from '../support/podman.js';
import { createPodmanFly, disposePodmanFly, failedFlyCalls } from '../support/podman-fly.js';
import { tree, notBackedUp } from './setup.js';

const MIN = 60_000;
const APP = CANONICAL_FLAGS[CANONICAL_FLAGS.indexOf('--app') + 1]!;

interface Fake {
  invocations(): { argv: string[]; exitCode: number | null }[];
  dir: string;
  env: Record<string, string>;
  restarts(machineId?: string): number;
  machines(app: string): { id: string; state: string }[];
  machineFsPath(app: string, machineId: string, path: string): string;
  cleanup(): void;
}

let fake: Fake | undefined;
let projectDir = '';
const timings: Record<string, number> = {};

async function cli(args: string[], timeoutMs = 5 * MIN): Promise<CliResult> {
  const t = Date.now();
  const r = await runCli([...args, '--dir', projectDir], { env: { NO_COLOR: '1', ...fake!.env }, timeoutMs, secrets: Object.values(projectSecretValues(projectDir)) });
  timings[args[0]!] = Math.round((Date.now() - t) / 100) / 10;
  return r;
}

function data(): string {
  const [m] = fake!.machines(APP);
  return fake!.machineFsPath(APP, m!.id, '/data');
}

async function pairedIds(): Promise<string[]> {
  const r = await cli(['devices', '--json']);
  expect(r.code, r.stderr).toBe(0);
  const list = JSON.parse(r.stdout) as { paired: { deviceId?: string }[] };
  return list.paired.map((p) => p.deviceId ?? '').filter(Boolean);
}

describe('backup and restore against the real image (podman)', () => {
  beforeAll(async () => {
    await ensurePodman();
    await ensureBaseImage();
    // the canonical project and its image, shared with the image and e2e tests (cached by content hash)
    projectDir = (await canonicalProject()).dir;
    const hostPort = await freePort();
    fake = createPodmanFly<Fake>(projectDir, hostPort, 3 * MIN);
  }, 25 * MIN);

  afterAll(async () => {
    await disposePodmanFly(fake, projectDir);
    console.log(`backup/restore on the real image, timings (s): ${JSON.stringify(timings)}`);
  }, 5 * MIN);

  it('write state → backup → destroy /data → restore → the gateway boots on it, the device still paired, no temp dir left', async () => {
    const deploy = await cli(['deploy', '--yes', '--json'], 25 * MIN);
    expect(deploy.code, `${deploy.stderr}\n${deploy.stdout}\n${failedFlyCalls(fake!)}`).toBe(0);

    // state: the gateway CLI on the machine is a local client, paired on first contact
    const paired = await pairedIds();
    expect(paired.length).toBeGreaterThan(0);
    expect(existsSync(join(data(), 'devices', 'paired.json'))).toBe(true);
    writeFileSync(join(data(), 'notes.txt'), 'written before the backup\n');

    const b = await cli(['backup', '--json']);
    expect(b.code, b.stderr).toBe(0);
    const backup = JSON.parse(b.stdout) as { file: string; files: number; bytes: number; durationMs: number; skipped: unknown[]; changedWhileRead: string[] };
    const listed = spawnSync('tar', ['-tzf', backup.file], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l && !l.endsWith('/') && l !== '.clawdfly-backup.json');
    const saved = tree(data(), notBackedUp);
    // `clawdfly devices` runs the gateway CLI as root, which leaves identity/device-auth.json root-only
    // in /data: the backup (as the gateway user) names it as skipped instead of copying it
    const skipped = backup.skipped as { path: string; reason: string }[];
    for (const s of skipped) expect(s.reason, s.path).toBe('not readable by the owner of the state dir');
    expect([...listed, ...skipped.map((s) => s.path)].sort()).toEqual(Object.keys(saved).sort());
    expect(listed).toEqual(expect.arrayContaining(['devices/paired.json', 'notes.txt', 'clawdbot.json']));
    timings['backupBytes'] = backup.bytes;

    // destroy the volume's files (the cache under tmp/ stays, as a restore leaves it)
    for (const name of readdirSync(data())) if (name !== 'tmp') rmSync(join(data(), name), { recursive: true, force: true });
    expect(existsSync(join(data(), 'devices'))).toBe(false);

    const r = await cli(['restore', backup.file, '--yes', '--json'], 10 * MIN);
    expect(r.code, r.stderr).toBe(0);

    // the gateway runs on the restored state: what was paired is still paired
    const after = await pairedIds();
    expect(after).toEqual(expect.arrayContaining(paired));
    expect(readFileSync(join(data(), 'notes.txt'), 'utf8')).toBe('written before the backup\n');
    // every backed-up file is back (the gateway may since have added or rewritten its own)
    const now = tree(data(), notBackedUp);
    for (const path of listed) expect(now[path], path).toBeDefined();
    // no temp or pre-restore dir left; the files belong to the gateway user
    expect(readdirSync(data()).filter((n) => n.startsWith('.clawdfly-restore-') || n.startsWith('.pre-restore-'))).toEqual([]);
    expect(statSync(join(data(), 'notes.txt')).uid).toBe(1000);
  }, 40 * MIN);
});
