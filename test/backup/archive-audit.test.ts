/**
 * The audit findings on backup/restore, against the flyctl double (/data owned by the gateway user,
 * ssh as root, as on Fly):
 *   - ext4's root-owned `lost+found` is neither backed up nor in the way of a restore;
 *   - a crafted archive (a huge pax header, a huge manifest: megabytes of gzip'd zeros) is refused
 *     with exit 2 and a clear cause, in bounded memory;
 *   - a sparse file (`truncate -s 2G`) is refused by name instead of read as 2 GB of zeros;
 *   - `restore --no-safety-backup` restores without reading the current state first, and keeps
 *     what it replaced on the volume.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, createWriteStream, existsSync, mkdirSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';
import type { Deployed } from '../config/setup.js';
import { asGateway, CREDS, gatewayWithState, notBackedUp, trackDeployments, tree } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const live = trackDeployments();

async function project(): Promise<Deployed> {
  const d = await gatewayWithState(['--runtime', 'clawdbot']);
  live.push(d);
  return d;
}

function ssh(d: Deployed, from: number): string[][] {
  return d.fake.invocations().slice(from).filter((i) => i.argv[0] === 'ssh').map((i) => i.argv);
}

// ---------------------------------------------------------------- crafted archives

function tarHeader(name: string, size: number, type: string): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write('0000644\0', 100, 'ascii');
  b.write('0000000\0', 108, 'ascii');
  b.write('0000000\0', 116, 'ascii');
  b.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  b.write('00000000000\0', 136, 'ascii');
  b.fill(' ', 148, 156);
  b.write(type, 156, 'ascii');
  b.write('ustar\u000000', 257, 'binary');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return b;
}

/** A gzip'd tar whose one member of type `type` claims `size` bytes of zeros (written in chunks: a few hundred KB on disk). */
async function zerosArchive(file: string, name: string, type: string, size: number): Promise<void> {
  const gzip = createGzip({ level: 9 });
  const done = once(gzip.pipe(createWriteStream(file)), 'close');
  gzip.write(tarHeader(name, size, type));
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  for (let left = size; left > 0; left -= zeros.length) if (!gzip.write(left >= zeros.length ? zeros : zeros.subarray(0, left))) await once(gzip, 'drain');
  gzip.end(Buffer.alloc(1024));
  await done;
}

/** Peak RSS (MB) of a Node process that reads the archive with clawdfly's reader, and what the reader said. */
function readInChild(file: string): { peakMb: number; error: string } {
  const script = `
const { readArchive } = require(${JSON.stringify(join(ROOT, 'dist/agent/clawdfly-agent.cjs'))});
readArchive(require('fs').createReadStream(process.argv[1])).then(
  () => console.log(JSON.stringify({ error: '', peakMb: process.resourceUsage().maxRSS / 1024 })),
  (e) => console.log(JSON.stringify({ error: e.message, peakMb: process.resourceUsage().maxRSS / 1024 })),
);`;
  const r = spawnSync(process.execPath, ['-e', script, file], { encoding: 'utf8', maxBuffer: 1024 * 1024 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { peakMb: number; error: string };
}

describe('reading a crafted archive', () => {
  it('a 300 MB pax header (a few hundred KB gzip\'d) is refused with exit 2, in bounded memory', async () => {
    const dir = tempDir('clawdfly-crafted-');
    const file = join(dir, 'pax.tar.gz');
    await zerosArchive(file, 'PaxHeader', 'x', 300 * 1024 * 1024);
    const read = readInChild(file);
    console.log(`[crafted pax header] peak RSS ${read.peakMb.toFixed(0)} MB`);
    expect(read.peakMb).toBeLessThan(150);
    expect(read.error).toMatch(/pax header of 314572800 bytes \(over 1 MB\)/);
    const r = await runCli(['restore', file, '--yes', '--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pax header of 314572800 bytes (over 1 MB): not a clawdfly backup, refused');
  }, 120_000);

  it('a 100 MB manifest is refused with exit 2, in bounded memory', async () => {
    const dir = tempDir('clawdfly-crafted-');
    const file = join(dir, 'manifest.tar.gz');
    await zerosArchive(file, '.clawdfly-backup.json', '0', 100 * 1024 * 1024);
    const read = readInChild(file);
    console.log(`[crafted manifest] peak RSS ${read.peakMb.toFixed(0)} MB`);
    expect(read.peakMb).toBeLessThan(150);
    expect(read.error).toMatch(/manifest is 104857600 bytes \(over 64 MB\)/);
    const r = await runCli(['restore', file, '--yes', '--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not a clawdfly backup, refused');
  }, 120_000);
});

// ---------------------------------------------------------------- on the machine

describe('backup and restore on a real volume layout', () => {
  it('leaves ext4\'s lost+found (root-owned) out of the backup and in place through a restore', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    mkdirSync(join(data, 'lost+found'), { mode: 0o700 });
    writeFileSync(join(data, 'lost+found', '#12345'), 'an orphaned inode fsck found');
    const expected = tree(data, (top) => notBackedUp(top) || top === 'lost+found');

    const b = await d.cli(['backup', '--json']);
    expect(b.code, b.stderr).toBe(0);
    const backup = JSON.parse(b.stdout) as { file: string; excluded: string[]; skipped: unknown[] };
    const listed = spawnSync('tar', ['-tzf', backup.file], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    expect(listed.filter((p) => p.startsWith('lost+found'))).toEqual([]);
    expect(backup.excluded).toContain('lost+found/');
    expect(backup.skipped).toEqual([]);

    asGateway(data, CREDS, '{"changed":true}', 0o600);
    const r = await d.cli(['restore', backup.file, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(tree(data, (top) => notBackedUp(top) || top === 'lost+found')).toEqual(expected);
    expect(readdirSync(join(data, 'lost+found'))).toEqual(['#12345']);
  }, 180_000);

  it('refuses a sparse file by name (truncate -s 2G) instead of reading 2 GB of zeros', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const sparse = join(data, 'disk.img');
    writeFileSync(sparse, '');
    truncateSync(sparse, 2 * 1024 ** 3);
    chownSync(sparse, 1000, 1000);
    const b = await d.cli(['backup', '--json']);
    expect(b.code, b.stderr).toBe(0);
    const backup = JSON.parse(b.stdout) as { file: string; dataBytes: number; skipped: { path: string; reason: string }[] };
    expect(backup.skipped).toEqual([{ path: 'disk.img', reason: 'sparse file: 2048 MB long, 0 MB on disk (holes are not copied)' }]);
    expect(backup.dataBytes).toBeLessThan(10 * 1024 * 1024);
    const listed = spawnSync('tar', ['-tzf', backup.file], { encoding: 'utf8' }).stdout.split('\n');
    expect(listed).not.toContain('disk.img');
  }, 120_000);

  it('restore --no-safety-backup reads nothing of the current state first and keeps what it replaced on the volume', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const expected = tree(data, notBackedUp);
    const b = await d.cli(['backup', '--json']);
    expect(b.code, b.stderr).toBe(0);
    const { file } = JSON.parse(b.stdout) as { file: string };
    asGateway(data, CREDS, '{"broken":true}', 0o600);
    const backups = readdirSync(join(d.dir, '.clawdfly', 'backups')).sort();

    // no terminal and no --yes: refused, and the hint keeps the flag
    const refused = await d.cli(['restore', file, '--no-safety-backup']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--no-safety-backup --yes');

    const from = d.fake.invocations().length;
    const r = await d.cli(['restore', file, '--no-safety-backup', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { previousBackup: string | null; previousOnVolume: string | null; changes: unknown };
    expect(report.previousBackup).toBeNull();
    expect(report.changes).toBeNull();
    // one ssh call: the upload and swap (no backup stream before it, no clean-up after it)
    expect(ssh(d, from).length).toBe(1);
    expect(readdirSync(join(d.dir, '.clawdfly', 'backups')).sort()).toEqual(backups);
    expect(tree(data, notBackedUp)).toEqual(expected);
    // the replaced state is the only way back: kept on the volume, with the broken file in it
    const kept = report.previousOnVolume!;
    expect(kept).toMatch(/^\/data\/\.pre-restore-/);
    expect(existsSync(join(data, kept.slice('/data/'.length), CREDS))).toBe(true);
  }, 180_000);
});
