/**
 * Off-site copies on the real OpenClaw image (`clawdfly init --yes --runtime openclaw`, the unchanged
 * generated Dockerfile, run like a Fly machine) against a local S3-compatible server started here
 * (npm @20minutes/s3rver, which checks every SigV4 signature), reached from the container at the
 * podman bridge's host address.
 *  - With fly.toml [env] CLAWDFLY_OFFSITE_EVERY set (2 s here) and the bucket's secrets, the
 *    entrypoint's supervisor runs the uploader beside the gateway: copies appear, one every
 *    interval, encrypted (no byte of a plain-text marker planted in the state reaches the bucket),
 *    and pruned by the policy (CLAWDFLY_OFFSITE_KEEP=3x1s here: the newest 3 only); the gateway
 *    keeps answering its health check meanwhile.
 *  - The volume dies: a new machine on an empty volume fetches the newest copy from the bucket,
 *    the machine's archive writer restores it, and after a restart the paired devices (the
 *    devices/ folder as the gateway left it, and its SQLite store) and the WhatsApp credentials
 *    are back and the gateway listens on them.
 *  - The credentials and the key appear in no log line, no process's argv, no status file.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: no types for the s3rver fork
import S3rver from '@20minutes/s3rver';
import { flyMachineOptions, openclawProject, removeCanonicalDirs, type CanonicalProject } from '../image/project.js';
import { ensureNodeBaseImage, runMachine, type Machine } from '../support/podman.js';
import { RUNTIMES } from '../../src/gateway/runtime.js';

const require = createRequire(import.meta.url);
const MIN = 60_000;
const OPENCLAW = RUNTIMES['openclaw@2026.9.6']!;
const SECRET = `offsite-image-secret-${createHash('sha256').update(String(process.pid)).digest('hex').slice(0, 16)}`;
const ACCESS = 'AKIDOFFSITEIMAGE';
const KEY = Buffer.from(createHash('sha256').update(`key-${process.pid}`).digest()).toString('base64');
const MARKER = 'WHATSAPP-PLAINTEXT-MARKER-7c1e9b';
const APP = 'clawdfly-offsite-drill';

let project: CanonicalProject;
let server: { close: () => Promise<void> };
let s3Dir: string;
let port: number;
const temps: string[] = [];
const machines: Machine[] = [];

beforeAll(async () => {
  await ensureNodeBaseImage(24);
  project = await openclawProject();
  console.log(`[offsite image] image ${project.build.cached ? 'cached' : `built in ${project.build.seconds.toFixed(0)} s`} (${project.image})`);
  const work = mkdtempSync(join(tmpdir(), 'clawdfly-offsite-image-'));
  temps.push(work);
  s3Dir = join(work, 's3');
  mkdirSync(s3Dir);
  (require('@20minutes/s3rver/lib/models/account.js') as { DUMMY_ACCOUNT: { createKeyPair: (id: string, secret: string) => void } }).DUMMY_ACCOUNT.createKeyPair(ACCESS, SECRET);
  // every address: the container comes in through the podman bridge (host.containers.internal)
  server = new S3rver({ port: 0, address: '0.0.0.0', silent: true, directory: s3Dir, configureBuckets: [{ name: 'drill-backups' }], vhostBuckets: false });
  port = ((await (server as unknown as { run: () => Promise<{ port: number }> }).run()) as { port: number }).port;
}, 60 * MIN);

afterAll(async () => {
  for (const m of machines) await m.remove().catch(() => undefined);
  await server?.close();
  for (const d of temps) rmSync(d, { recursive: true, force: true });
  removeCanonicalDirs();
}, 5 * MIN);

function bucketEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    AWS_ACCESS_KEY_ID: ACCESS,
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_ENDPOINT_URL_S3: `http://host.containers.internal:${port}`,
    AWS_REGION: 'auto',
    BUCKET_NAME: 'drill-backups',
    CLAWDFLY_BACKUP_KEY: KEY,
    FLY_APP_NAME: APP,
    ...extra,
  };
}

/** The objects the S3 server holds for this app: name → stored bytes. */
function bucketObjects(): Map<string, Buffer> {
  const dir = join(s3Dir, 'drill-backups', 'clawdfly', APP);
  const out = new Map<string, Buffer>();
  let names: string[] = [];
  try { names = readdirSync(dir); } catch { return out; }
  for (const n of names) if (n.endsWith('._S3rver_object')) out.set(n.replace(/\._S3rver_object$/, ''), readFileSync(join(dir, n)));
  return out;
}

function allBucketBytes(): Buffer {
  const parts: Buffer[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(join(d, e.name)) : parts.push(readFileSync(join(d, e.name)));
  };
  walk(s3Dir);
  return Buffer.concat(parts);
}

/** name → text of the files of one folder. */
function folderContents(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).filter((n) => statSync(join(dir, n)).isFile()).sort().map((n) => [n, readFileSync(join(dir, n), 'utf8')]));
}

/** Every process's argv in the container, NUL-separated words joined by spaces. */
async function allArgv(m: Machine): Promise<string> {
  const r = await m.exec(['sh', '-c', 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done']);
  return r.stdout;
}

function assertNoSecret(label: string, text: string): void {
  for (const value of [SECRET, KEY]) expect(text.includes(value), `${label} holds a credential`).toBe(false);
}

/** Restores an archive inside the machine with the image's remote agent (what `clawdfly restore` runs there): staged for the next boot. */
const RESTORE = `
const fs = require('fs'), crypto = require('crypto'), { spawnSync } = require('child_process');
const file = process.argv[1];
const settings = JSON.parse(fs.readFileSync('/app/offsite.json', 'utf8'));
const bytes = fs.readFileSync(file);
const sha = crypto.createHash('sha256').update(bytes).digest('hex');
const params = Buffer.from(JSON.stringify({ sha256: sha, excludes: settings.excludes, tag: 'drill' })).toString('base64url');
const r = spawnSync(process.execPath, ['-e', 'globalThis.__clawdflyRemote=1;require(process.argv[1])', '/app/clawdfly-agent.cjs', 'restore', '/data', params], { input: bytes });
process.stdout.write(r.stdout); process.stderr.write(r.stderr); process.exit(r.status ?? 1);
`;

describe('off-site copies on the real OpenClaw image (podman + a local S3 server)', () => {
  it('uploads encrypted copies on schedule, prunes them by the policy, and a wiped volume comes back from the bucket', async () => {
    // the state a user cares about: a WhatsApp session and a paired device, on the volume
    const volume = mkdtempSync(join(tmpdir(), 'clawdfly-offsite-vol-'));
    temps.push(volume);
    mkdirSync(join(volume, 'credentials', 'whatsapp', 'default'), { recursive: true });
    mkdirSync(join(volume, 'devices'));
    const creds = JSON.stringify({ me: { id: '15550001111@s.whatsapp.net' }, noiseKey: MARKER });
    const paired = JSON.stringify({ 'device-1': { name: 'my phone', approvedAt: '2026-12-01T00:00:00Z' } });
    writeFileSync(join(volume, 'credentials', 'whatsapp', 'default', 'creds.json'), creds);
    writeFileSync(join(volume, 'devices', 'paired.json'), paired);

    const options = flyMachineOptions(project.dir, {
      image: project.image,
      volumeDir: volume,
      name: `offsite-${process.pid}`,
      env: { ...bucketEnv(), CLAWDFLY_OFFSITE_EVERY: '2s', CLAWDFLY_OFFSITE_KEEP: '3x1s' },
    });
    const m = await runMachine(options);
    machines.push(m);
    await m.waitForLog(OPENCLAW.listeningLine!, 10 * MIN);
    // five uploads, each verified; by then the policy has pruned
    const started = Date.now();
    for (let seen = 0; seen < 5; ) {
      await m.waitForLog(/\[clawdfly\] off-site copy \S+ uploaded and verified/, 5 * MIN, { fromOffset: 0 });
      seen = ((await m.logs()).match(/off-site copy \S+ uploaded and verified/g) ?? []).length;
      if (Date.now() - started > 10 * MIN) throw new Error(`only ${seen} uploads in 10 minutes:\n${(await m.logs()).slice(-3000)}`);
      if (seen < 5) await new Promise((r) => setTimeout(r, 500));
    }
    const logs = await m.logs();
    const uploads = [...logs.matchAll(/off-site copy (\S+) uploaded and verified \((\d+) bytes, ([\d.]+) s\)/g)].map((x) => ({ name: x[1]!, bytes: Number(x[2]), seconds: Number(x[3]) }));
    console.log(`[offsite image] uploads: ${uploads.map((u) => `${u.name} ${u.bytes} B in ${u.seconds} s`).join('; ')}`);
    expect(logs).toMatch(/\[clawdfly\] pruned \d+ older off-site cop/);

    // the gateway was not disturbed: it still answers, the watchdog never restarted it
    const health = await fetch(`${m.url}/healthz`);
    expect(health.status).toBe(200);
    expect(logs).not.toMatch(/watchdog: restarting/);

    // in the bucket: encrypted copies only, at most the policy's 3 (+1 being uploaded right now)
    const objects = bucketObjects();
    expect(objects.size).toBeGreaterThanOrEqual(3);
    expect(objects.size).toBeLessThanOrEqual(4);
    for (const [name, bytes] of objects) {
      expect(name).toMatch(/^\d{8}T\d{6}Z\.tar\.enc$/);
      expect(bytes.subarray(0, 19).toString('ascii')).toBe('CLAWDFLY-OFFSITE-1\n');
    }
    expect(objects.has(uploads[0]!.name)).toBe(false); // the oldest copies were pruned
    expect(allBucketBytes().includes(Buffer.from(MARKER))).toBe(false);
    expect(allBucketBytes().includes(Buffer.from('15550001111'))).toBe(false);

    // the status file, owner-only, for doctor
    const status = JSON.parse(readFileSync(join(volume, '.clawdfly-offsite.json'), 'utf8'));
    expect(status).toMatchObject({ every: 2, lastError: null });
    expect(status.lastObject).toMatch(/\.tar\.enc$/);
    expect(statSync(join(volume, '.clawdfly-offsite.json')).mode & 0o777).toBe(0o600);

    // no credential in any argv (the sidecar is there), log or status file
    const argv = await allArgv(m);
    expect(argv).toMatch(/\/app\/offsite\.mjs run/);
    assertNoSecret('a process argv', argv);
    assertNoSecret('the machine log', logs);
    assertNoSecret('the status file', readFileSync(join(volume, '.clawdfly-offsite.json'), 'utf8'));
    await m.stop(30);
    // OpenClaw imports devices/paired.json into its SQLite store at start and keeps the file as
    // paired.json.migrated: the device folder as the gateway left it is what must come back
    const devicesBefore = folderContents(join(volume, 'devices'));
    expect(Object.keys(devicesBefore).some((n) => n.startsWith('paired.json'))).toBe(true);

    // ---- the volume dies: a new machine on an empty volume, no schedule yet
    const fresh = mkdtempSync(join(tmpdir(), 'clawdfly-offsite-fresh-'));
    temps.push(fresh);
    const m2 = await runMachine(flyMachineOptions(project.dir, { image: project.image, volumeDir: fresh, name: `offsite-drill-${process.pid}`, env: bucketEnv() }));
    machines.push(m2);
    await m2.waitForLog(OPENCLAW.listeningLine!, 10 * MIN);
    expect(await allArgv(m2)).not.toMatch(/offsite\.mjs run/); // no CLAWDFLY_OFFSITE_EVERY: no uploader

    const listed = await m2.exec(['node', '/app/offsite.mjs', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const copies = JSON.parse(listed.stdout) as Array<{ name: string; size: number; time: string }>;
    // what the bucket holds once the first machine stopped (it kept uploading until then)
    expect(copies.map((c) => c.name)).toEqual([...bucketObjects().keys()].sort().reverse());
    const newest = copies[0]!;

    // a wrong key: one line, exit 1, nothing written
    const wrong = await m2.exec(['node', '/app/offsite.mjs', 'fetch', newest.name, '--to', '/tmp/wrong.tar.gz'], undefined, { env: { CLAWDFLY_BACKUP_KEY: Buffer.alloc(32, 9).toString('base64') } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect((await m2.exec(['ls', '/tmp/'])).stdout).not.toMatch(/wrong\.tar\.gz/);

    const fetched = await m2.exec(['node', '/app/offsite.mjs', 'fetch', newest.name, '--to', '/tmp/restore.tar.gz']);
    expect(fetched.code, fetched.stderr).toBe(0);
    const restored = await m2.exec(['node', '-e', RESTORE, '/tmp/restore.tar.gz']);
    expect(restored.code, restored.stderr).toBe(0);
    // the image applies a restore at its next boot, before the gateway starts (restore before start)
    expect(JSON.parse(restored.stdout)).toMatchObject({ staged: true });
    assertNoSecret('the drill output', listed.stdout + listed.stderr + fetched.stdout + fetched.stderr + wrong.stdout + wrong.stderr + restored.stdout + restored.stderr);

    await m2.restart();
    await m2.waitForLog(OPENCLAW.listeningLine!, 10 * MIN, { fromOffset: 0 });
    // the gateway listens on the restored state: confirmed, as clawdfly restore does
    const confirmed = await m2.exec(['node', '-e', 'globalThis.__clawdflyRemote=1;require(process.argv[1])', '/app/clawdfly-agent.cjs', 'confirm-restore', '/data', Buffer.from(JSON.stringify({ how: 'drop' })).toString('base64url')]);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(readFileSync(join(fresh, 'credentials', 'whatsapp', 'default', 'creds.json'), 'utf8')).toBe(creds);
    expect(folderContents(join(fresh, 'devices'))).toEqual(devicesBefore);
    expect(Object.values(devicesBefore)).toContain(paired);
    expect(statSync(join(fresh, 'state', 'openclaw.sqlite')).size).toBeGreaterThan(0);
    expect((await fetch(`${m2.url}/healthz`)).status).toBe(200);
    assertNoSecret('the restored machine log', await m2.logs());
    const rpo = uploads.slice(1).map((u) => u.seconds);
    console.log(`[offsite image] RPO here: interval 2 s + ${Math.max(...rpo)} s to make, encrypt, upload and verify a copy of ${uploads.at(-1)!.bytes} bytes`);
  }, 40 * MIN);
});
