/**
 * A full local disk, for real: a small tmpfs mounted for the test (the suite runs as root). Every
 * local write that hits it says so in one line ("the local disk is full: …"), exits 1, and leaves
 * no partial file behind: backup, restore's safety backup (its download), and init.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import type { Deployed } from '../config/setup.js';
import { gatewayWithState, stopAppServer } from './setup.js';

const mounted: string[] = [];
const live: Deployed[] = [];

/** A tmpfs of `size` at `dir` (created), unmounted after the test. */
function smallDisk(dir: string, size: string): string {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount tmpfs failed (the suite runs as root): ${r.stderr}`);
  mounted.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of mounted.splice(0).reverse()) spawnSync('umount', [dir]);
  for (const d of live.splice(0)) d.fake.cleanup();
});
afterAll(stopAppServer);

/** Every name under `dir`, recursively (what was left on the small disk). */
function everything(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

function expectOneLineDiskFull(stderr: string): void {
  expect(stderr).toMatch(/the local disk is full: /);
  // one line of cause (plus the hint), never a stack trace or "unexpected error"
  expect(stderr).not.toMatch(/\n\s+at |unexpected error|this is a bug/);
}

describe('a full local disk', () => {
  it('backup --out on a full disk: one line, exit 1, no partial file', async () => {
    const d = await gatewayWithState();
    live.push(d);
    // the archive is ~46 KB: the disk fills in the middle of the stream
    const disk = smallDisk(join(tempDir('clawdfly-fulldisk-'), 'disk'), '24k');
    const r = await d.cli(['backup', '--out', join(disk, 'b.tar.gz')]);
    expect(r.code, r.stderr).toBe(1);
    expectOneLineDiskFull(r.stderr);
    expect(everything(disk)).toEqual([]);
  });

  it("restore's safety backup (its download) on a full disk: one line, exit 1, no partial file, nothing on the machine changed", async () => {
    const d = await gatewayWithState();
    live.push(d);
    const good = await d.cli(['backup', '--json']);
    expect(good.code, good.stderr).toBe(0);
    const archive = join(tempDir('clawdfly-archive-'), 'a.tar.gz');
    spawnSync('cp', [JSON.parse(good.stdout).file, archive]);
    const backups = join(d.dir, '.clawdfly', 'backups');
    spawnSync('rm', ['-rf', backups]);
    smallDisk(backups, '24k');
    const before = d.fake.invocations().length;
    const r = await d.cli(['restore', archive, '--yes']);
    expect(r.code, r.stderr).toBe(1);
    expectOneLineDiskFull(r.stderr);
    expect(everything(backups).filter((n) => n !== '.gitignore')).toEqual([]);
    // the restore stopped at its safety backup: no upload, no swap
    const ssh = d.fake.invocations().slice(before).filter((i) => i.argv[0] === 'ssh');
    expect(ssh).toHaveLength(1);
  });

  it('init on a full disk: one line, exit 1, no stack trace, no temp file left', async () => {
    const disk = smallDisk(join(tempDir('clawdfly-fulldisk-'), 'disk'), '1m');
    // all but 24 KB of the disk already taken, as on a full laptop
    spawnSync('dd', ['if=/dev/zero', `of=${join(disk, 'filler')}`, 'bs=1k', 'count=1000'], { encoding: 'utf8' });
    const project = join(disk, 'gw');
    const r = await runCli(['init', '--yes', '--runtime', 'clawdbot', '--dir', project, '--app', 'test-claw', '--region', 'iad']);
    expect(r.code, r.stderr).toBe(1);
    expectOneLineDiskFull(r.stderr);
    expect(everything(disk).filter((n) => /\.tmp$|partial/.test(n))).toEqual([]);
    // the re-run on a disk with room converges on a whole project
    spawnSync('rm', ['-f', join(disk, 'filler')]);
    writeFileSync(join(disk, '.keep'), '');
    const again = await runCli(['init', '--yes', '--runtime', 'clawdbot', '--dir', project, '--app', 'test-claw', '--region', 'iad']);
    expect(again.code, again.stderr).toBe(0);
  });
});
