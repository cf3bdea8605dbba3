/**
 * `clawdfly backup` and `clawdfly restore` against the flyctl double, with /data owned by the
 * gateway user and ssh running as root (as on Fly): the archive unpacks to exactly the state's
 * files, a damaged volume comes back byte for byte, and a truncated or tampered archive is refused
 * with exit 2 before any flyctl call.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, lchownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { APP, type Deployed } from '../config/setup.js';
import { asGateway, CACHE, CREDS, gatewayWithState, notBackedUp, SESSION, trackDeployments, tree } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';
import { agentFrame } from '../../src/remote/agent-call.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const MANIFEST = '.clawdfly-backup.json';
const live = trackDeployments();

async function project(): Promise<Deployed> {
  const d = await gatewayWithState();
  live.push(d);
  return d;
}

interface BackupJson {
  ok: boolean;
  file: string;
  bytes: number;
  files: number;
  sha256: string;
  durationMs: number;
  runtime: string;
  snapshot: { volume: string; id?: string; status?: string } | null;
}

async function backup(d: Deployed, args: string[] = []): Promise<BackupJson> {
  const r = await d.cli(['backup', '--json', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as BackupJson;
}

function untar(file: string): string {
  const dir = tempDir('clawdfly-untar-');
  const r = spawnSync('tar', ['-xzf', file, '-C', dir], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return dir;
}

/** Rewrites the archive's manifest member in place (same length, so the tar stays well-formed). */
function tamperManifest(file: string, out: string, edit: (text: string) => string): void {
  const tar = gunzipSync(readFileSync(file));
  const text = tar.toString('latin1');
  const at = text.indexOf('{\n  "format": "clawdfly-backup/1"');
  expect(at).toBeGreaterThan(0);
  const end = text.indexOf('\n}\n', at) + 3;
  const edited = edit(text.slice(at, end));
  expect(edited.length).toBe(end - at);
  expect(edited).not.toBe(text.slice(at, end));
  writeFileSync(out, gzipSync(Buffer.concat([tar.subarray(0, at), Buffer.from(edited, 'latin1'), tar.subarray(end)])));
}

function sshCalls(d: Deployed, from = 0): string[][] {
  return d.fake.invocations().slice(from).filter((i) => i.argv[0] === 'ssh').map((i) => i.argv);
}

describe('clawdfly backup', () => {
  it('writes a 0600 archive that tar unpacks to exactly the state files, same bytes, without tmp/, in one ssh call', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const expected = tree(data, notBackedUp);
    expect(Object.keys(expected)).toEqual(expect.arrayContaining([SESSION, CREDS, 'clawdbot.json']));
    expect(statSync(join(data, SESSION)).size).toBeGreaterThanOrEqual(300 * 1024);
    const before = d.fake.invocations().length;

    const result = await backup(d);

    expect(result.file).toMatch(new RegExp(`/\\.clawdfly/backups/${APP}-\\d{8}T\\d{6}Z\\.tar\\.gz$`));
    expect(result.file.startsWith(d.dir)).toBe(true);
    expect(statSync(result.file).mode & 0o777).toBe(0o600);
    expect(result.bytes).toBe(statSync(result.file).size);
    expect(result.files).toBe(Object.keys(expected).length);
    expect(result.runtime).toBe('clawdbot@2026.1.24-3');
    // kept out of git (its own .gitignore, so older projects too) and out of the image build context
    expect(spawnSync('git', ['init', '-q', d.dir]).status).toBe(0);
    expect(spawnSync('git', ['-C', d.dir, 'check-ignore', '-q', result.file]).status).toBe(0);
    expect(readFileSync(join(d.dir, '.dockerignore'), 'utf8').split('\n')).toContain('.clawdfly');
    expect(sshCalls(d, before)).toHaveLength(1);
    // no partial file left beside it
    expect(readdirSync(join(d.dir, '.clawdfly', 'backups')).sort()).toEqual(['.gitignore', result.file.split('/').pop()]);

    const unpacked = untar(result.file);
    const got = tree(unpacked);
    expect(Object.keys(got).filter((p) => p.startsWith('tmp/'))).toEqual([]);
    const { [MANIFEST]: manifestSha, ...files } = got;
    expect(manifestSha).toBeDefined();
    expect(files).toEqual(expected);
    const manifest = JSON.parse(readFileSync(join(unpacked, MANIFEST), 'utf8')) as { app: string; runtime: string; machine: string; files: { path: string; size: number; sha256: string }[] };
    expect(manifest).toMatchObject({ app: APP, runtime: 'clawdbot@2026.1.24-3', machine: d.machineId });
    expect(Object.fromEntries(manifest.files.map((f) => [f.path, f.sha256]))).toEqual(expected);
    rmSync(unpacked, { recursive: true, force: true });
  }, 120_000);

  it('streams more than a pipe holds: an incompressible 3 MB file comes through whole', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    asGateway(data, 'media/voice-note.ogg', randomBytes(3 * 1024 * 1024), 0o600);
    const result = await backup(d);
    expect(result.bytes).toBeGreaterThan(3 * 1024 * 1024);
    const unpacked = untar(result.file);
    const { [MANIFEST]: _manifest, ...files } = tree(unpacked);
    expect(files).toEqual(tree(data, notBackedUp));
    rmSync(unpacked, { recursive: true, force: true });
  }, 120_000);

  it('never follows a link the gateway user planted: links are named as skipped, their targets never copied', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const outside = join(tempDir('clawdfly-outside-'), 'root-only.txt');
    writeFileSync(outside, 'root-only-content-7d1f', { mode: 0o600 });
    symlinkSync(outside, join(data, 'planted.json'));
    symlinkSync(dirname(outside), join(data, 'planted-dir'));
    lchownSync(join(data, 'planted.json'), 1000, 1000);
    const r = await d.cli(['backup', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as BackupJson & { skipped: { path: string; reason: string; target?: string }[] };
    // named with what they point at (read, never followed): a restore keeps them in place
    expect(result.skipped).toEqual([{ path: 'planted-dir', reason: 'symlink', target: dirname(outside) }, { path: 'planted.json', reason: 'symlink', target: outside }]);
    const unpacked = untar(result.file);
    expect(Object.keys(tree(unpacked)).filter((p) => p.startsWith('planted'))).toEqual([]);
    expect(gunzipSync(readFileSync(result.file)).includes('root-only-content-7d1f')).toBe(false);
  }, 120_000);

  it('--snapshot also asks Fly for a volume snapshot and reports it', async () => {
    const d = await project();
    const result = await backup(d, ['--snapshot']);
    expect(result.snapshot?.volume).toMatch(/^vol_/);
    expect(result.snapshot?.status).toBe('running');
    const calls = d.fake.invocations().map((i) => i.argv.slice(0, 3).join(' '));
    expect(calls).toContain('volumes snapshots create');
    const list = spawnSync('flyctl', ['volumes', 'snapshots', 'list', result.snapshot!.volume, '--json', '-a', APP], { env: d.env, encoding: 'utf8' });
    expect(JSON.parse(list.stdout)).toHaveLength(1);
  }, 120_000);

  it('never overwrites: --out to an existing file is refused with exit 2 before any flyctl call', async () => {
    const d = await project();
    const out = join(d.dir, 'taken.tar.gz');
    writeFileSync(out, 'mine');
    const before = d.fake.invocations().length;
    const r = await d.cli(['backup', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('already exists');
    expect(readFileSync(out, 'utf8')).toBe('mine');
    expect(d.fake.invocations().slice(before).filter((i) => i.argv[0] === 'ssh')).toEqual([]);
  }, 120_000);
});

/**
 * A flyctl that passes every call to the double but cuts `ssh console`'s stdout (a download) or
 * stdin (an upload) to `bytes`, and still exits 0: only clawdfly's own checks can notice. An
 * upload's stdin starts with the remote agent's frame (src/remote/agent-call.ts).
 */
function cuttingFlyctl(d: Deployed, stream: 'stdout' | 'stdin', bytes: number): string {
  const file = join(tempDir('clawdfly-cut-'), 'flyctl');
  const double = join(d.env['PATH']!.split(':')[0]!, 'flyctl');
  const cut = stream === 'stdout'
    ? `"${double}" "$@" | head -c ${bytes}; exit 0`
    : `head -c ${bytes} | "${double}" "$@"; exit $?`;
  writeFileSync(file, `#!/bin/sh\nif [ "$1" = ssh ]; then ${cut}; fi\nexec "${double}" "$@"\n`, { mode: 0o755 });
  return file;
}

describe('a connection that drops', () => {
  it('a backup stream cut short is reported (exit 1) and leaves no archive, not even a partial one', async () => {
    const d = await project();
    const r = await d.cli(['backup', '--flyctl', cuttingFlyctl(d, 'stdout', 20_000)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not verify: .*(truncated|ends early)/);
    const dir = join(d.dir, '.clawdfly', 'backups');
    expect(existsSync(dir) ? readdirSync(dir).filter((n) => n !== '.gitignore') : []).toEqual([]);
  }, 120_000);

  it('a restore upload cut short changes nothing on the machine and leaves no temp dir there', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const { file } = await backup(d);
    asGateway(data, CREDS, '{"changed":true}', 0o600);
    const state = tree(data);
    const restarts = d.fake.restarts(d.machineId);
    const r = await d.cli(['restore', file, '--yes', '--flyctl', cuttingFlyctl(d, 'stdin', agentFrame().length + Math.floor(statSync(file).size / 2))]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('arrived damaged');
    expect(r.stderr).toContain('nothing on the machine was changed');
    expect(tree(data)).toEqual(state);
    expect(readdirSync(data).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(d.fake.restarts(d.machineId)).toBe(restarts);
  }, 120_000);
});

describe('clawdfly restore', () => {
  it('brings a damaged /data back to exactly the backed-up files and restarts the machine', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const expected = tree(data, notBackedUp);
    const { file } = await backup(d);

    // damage: a file deleted, one changed, the config emptied, a stranger added
    unlinkSync(join(data, SESSION));
    asGateway(data, CREDS, '{"noiseKey":"other"}', 0o600);
    asGateway(data, 'clawdbot.json', '', 0o600);
    asGateway(data, 'agents/main/sessions/new.jsonl', '{"i":0}\n', 0o600);
    expect(tree(data, notBackedUp)).not.toEqual(expected);
    const restarts = d.fake.restarts(d.machineId);

    const r = await d.cli(['restore', file, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { changes: { replaced: string[]; removed: string[]; added: string[] }; previousBackup: string; previousOnVolume: string | null };
    expect(report.changes.replaced.sort()).toEqual([CREDS, 'clawdbot.json'].sort());
    expect(report.changes.added).toEqual([SESSION]);
    expect(report.changes.removed).toEqual(['agents/main/sessions/new.jsonl']);
    // the state it replaced was saved first
    expect(existsSync(report.previousBackup)).toBe(true);
    expect(report.previousOnVolume).toBeNull();

    expect(tree(data, notBackedUp)).toEqual(expected);
    // the cache stays in place; no temp or pre-restore dir is left behind
    expect(readFileSync(join(data, CACHE), 'utf8')).toBe('transpile cache');
    expect(readdirSync(data).filter((n) => n.startsWith('.'))).toEqual([]);
    // the restored files still belong to the gateway user, with their modes
    expect(statSync(join(data, CREDS)).uid).toBe(1000);
    expect(statSync(join(data, CREDS)).mode & 0o777).toBe(0o600);
    expect(d.fake.restarts(d.machineId)).toBe(restarts + 1);
  }, 180_000);

  it('restores into a fresh app (a region move, a new account) once it is deployed: --app names it', async () => {
    const d = await project();
    const expected = tree(d.remotePath('/data'), notBackedUp);
    const { file } = await backup(d);
    const NEW = `${APP}-2`;
    for (const args of [['apps', 'create', NEW], ['deploy', '-a', NEW, '-c', 'fly.toml', '--ha=false', '--remote-only', '-y']]) {
      const r = spawnSync('flyctl', args, { cwd: d.dir, env: d.env, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
    const [fresh] = d.fake.machines(NEW);
    const freshData = d.fake.machineFsPath(NEW, fresh!.id, '/data');
    chownSync(freshData, 1000, 1000);
    const r = await d.cli(['restore', file, '--app', NEW, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { app: string; from: { app: string } })).toMatchObject({ app: NEW, from: { app: APP } });
    expect(tree(freshData, notBackedUp)).toEqual(expected);
    // the original app was only read
    expect(tree(d.remotePath('/data'), notBackedUp)).toEqual(expected);
  }, 180_000);

  it('stops before the swap when a folder in /data cannot be moved aside (made by root), and changes nothing', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const { file } = await backup(d);
    mkdirSync(join(data, 'identity'), { mode: 0o755 });
    writeFileSync(join(data, 'identity', 'device-auth.json'), '{}', { mode: 0o600 });
    asGateway(data, CREDS, '{"changed":true}', 0o600);
    const state = tree(data);
    const restarts = d.fake.restarts(d.machineId);
    const r = await d.cli(['restore', file, '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot be moved aside');
    expect(r.stderr).toContain('/data/identity');
    expect(tree(data)).toEqual(state);
    expect(readdirSync(data).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(d.fake.restarts(d.machineId)).toBe(restarts);
  }, 120_000);

  it('refuses a truncated archive with exit 2 and touches nothing remote', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const { file } = await backup(d);
    asGateway(data, CREDS, '{"changed":true}', 0o600);
    const state = tree(data);
    const truncated = join(d.dir, 'truncated.tar.gz');
    const bytes = readFileSync(file);
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const before = d.fake.invocations().length;

    const r = await d.cli(['restore', truncated, '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/truncated|ends early/);
    expect(d.fake.invocations().length).toBe(before);
    expect(tree(data)).toEqual(state);
  }, 120_000);

  it('refuses a tampered manifest (or tampered content) with exit 2 and touches nothing remote', async () => {
    const d = await project();
    const data = d.remotePath('/data');
    const { file } = await backup(d);
    const state = tree(data);
    const before = d.fake.invocations().length;

    const tampered = join(d.dir, 'tampered.tar.gz');
    const sha = tree(data, notBackedUp)[CREDS]!;
    tamperManifest(file, tampered, (text) => text.replace(sha, sha.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))));
    const r = await d.cli(['restore', tampered, '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('does not match its manifest');
    expect(r.stderr).toContain(CREDS);

    // content changed, manifest intact: also refused
    const tar = gunzipSync(readFileSync(file));
    const at = tar.indexOf('"role":"user"');
    tar[at + 2] = tar[at + 2] === 0x72 ? 0x52 : 0x72;
    const damaged = join(d.dir, 'damaged.tar.gz');
    writeFileSync(damaged, gzipSync(tar));
    const r2 = await d.cli(['restore', damaged, '--yes']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`${SESSION}: sha256 differs`);

    expect(d.fake.invocations().length).toBe(before);
    expect(tree(data)).toEqual(state);
  }, 120_000);

  it('refuses an archive from another runtime unless --force, and another app unless --app names the target', async () => {
    const d = await project();
    const { file } = await backup(d);
    const before = d.fake.invocations().length;
    const other = join(d.dir, 'other-runtime.tar.gz');
    tamperManifest(file, other, (text) => text.replace('"runtime": "clawdbot@2026.1.24-3"', '"runtime": "clawdbot@2026.1.24-9"'));
    const r = await d.cli(['restore', other, '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('clawdbot@2026.1.24-9');
    expect(r.stderr).toContain('--force');

    const otherApp = join(d.dir, 'other-app.tar.gz');
    tamperManifest(file, otherApp, (text) => text.replace(`"app": "${APP}"`, `"app": "${APP.replace('t', 'x')}"`));
    const r2 = await d.cli(['restore', otherApp, '--yes']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`--app ${APP}`);
    // no terminal and no --yes: refused before any flyctl call
    const r3 = await d.cli(['restore', file]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain('--yes');
    expect(d.fake.invocations().length).toBe(before);

    const forced = await d.cli(['restore', other, '--yes', '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
  }, 180_000);
});
