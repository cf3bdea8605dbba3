/**
 * The machine's off-site uploader (templates/runtime/offsite.mjs) run on the host with Node, laid
 * out as in the image (offsite.mjs, the remote agent clawdfly-agent.cjs and offsite.json side by side), against a
 * local S3-compatible server started here (npm @20minutes/s3rver, the maintained fork of s3rver:
 * it checks every SigV4 signature itself, so a signing mistake fails these tests). The retention
 * policy is a pure function with its own table test.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: no types for the s3rver fork
import S3rver from '@20minutes/s3rver';
import { ROOT } from '../helpers/cli.js';
// @ts-expect-error: plain ESM file of the image
import * as offsite from '../../templates/runtime/offsite.mjs';

const require = createRequire(import.meta.url);
const { readArchive } = require('../../dist/agent/clawdfly-agent.cjs') as { readArchive: (input: NodeJS.ReadableStream) => Promise<{ files: Array<{ path: string }> }> };

const DAY = 86_400_000;
const HOUR = 3_600_000;
const t0 = Date.UTC(2026, 11, 7, 0, 0, 0);

describe('retention (pure)', () => {
  const names = (times: number[]) => times.map((time) => ({ name: offsite.stampOf(time), time }));
  const cases: Array<[string, number[], string, number[]]> = [
    ['nothing to keep from', [], '24x1h,14x1d', []],
    ['one copy is always kept', [t0], '1x1h', [t0]],
    ['the newest of each hour, 3 hours', [t0, t0 + 10 * 60_000, t0 + HOUR, t0 + HOUR + 5 * 60_000, t0 + 2 * HOUR], '3x1h', [t0 + 2 * HOUR, t0 + HOUR + 5 * 60_000, t0 + 10 * 60_000]],
    ['hourly tier is the newest N hours that hold a copy', [t0, t0 + HOUR, t0 + 2 * HOUR, t0 + 3 * HOUR], '2x1h', [t0 + 3 * HOUR, t0 + 2 * HOUR]],
    ['daily copies survive past the hourly window', [t0 - 3 * DAY + HOUR, t0 - 2 * DAY + HOUR, t0 - DAY + HOUR, t0 + HOUR, t0 + 2 * HOUR], '1x1h,3x1d', [t0 + 2 * HOUR, t0 - DAY + HOUR, t0 - 2 * DAY + HOUR]],
    ['24 hourly + 14 daily: 48 hourly copies over 2 days keep 24 + 1', Array.from({ length: 48 }, (_, i) => t0 + i * HOUR), '24x1h,14x1d', [...Array.from({ length: 24 }, (_, i) => t0 + (47 - i) * HOUR), t0 + 23 * HOUR]],
    ['seconds-wide windows (what the image test uses)', [t0, t0 + 1000, t0 + 2000, t0 + 3000], '2x1s', [t0 + 3000, t0 + 2000]],
  ];
  it.each(cases)('%s', (_why, times, keep, kept) => {
    const result = offsite.retention(names(times), offsite.parseKeep(keep));
    expect(result.keep).toEqual(kept.map((t) => offsite.stampOf(t)));
    expect(result.drop.sort()).toEqual(times.filter((t) => !kept.includes(t)).map((t) => offsite.stampOf(t)).sort());
  });

  it('reads intervals and policies, and refuses what is not one', () => {
    expect([offsite.parseEvery('1h'), offsite.parseEvery('15m'), offsite.parseEvery('2s'), offsite.parseEvery('90'), offsite.parseEvery('1d')]).toEqual([3600, 900, 2, 90, 86400]);
    expect([offsite.parseEvery('soon'), offsite.parseEvery('0s'), offsite.parseEvery('')]).toEqual([undefined, undefined, undefined]);
    expect(offsite.parseKeep('24x1h,14x1d')).toEqual([{ count: 24, seconds: 3600 }, { count: 14, seconds: 86400 }]);
    expect(() => offsite.parseKeep('forever')).toThrow(/not like 24x1h/);
    expect([1, 2, 3, 10, 20].map((n) => offsite.backoffMs(n, 1000, 8000))).toEqual([1000, 2000, 4000, 8000, 8000]);
  });

  it('knows its own object names only', () => {
    expect(offsite.timeOfName('clawdfly/app/20261207T000000Z.tar.enc', 'clawdfly/app/')).toBe(t0);
    expect(offsite.timeOfName('clawdfly/app/notes.txt', 'clawdfly/app/')).toBeUndefined();
    expect(offsite.timeOfName('clawdfly/other/20261207T000000Z.tar.enc', 'clawdfly/app/')).toBeUndefined();
  });
});

// ------------------------------------------------------------------ against a local S3 server

const SECRET = 'sEcReT-offsite-test-9f1c2b7a';
const KEY = Buffer.alloc(32, 0x5a).toString('base64');
const MARKER = 'PLAIN-TEXT-MARKER-a81c3f0e';
let server: { close: () => Promise<void> };
let s3Dir: string;
let work: string;
let image: string;
let env: Record<string, string>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'clawdfly-offsite-test-'));
  s3Dir = join(work, 's3');
  mkdirSync(s3Dir);
  // s3rver knows one key pair (S3RVER/S3RVER); this one is ours, so a leak of it is findable.
  (require('@20minutes/s3rver/lib/models/account.js') as { DUMMY_ACCOUNT: { createKeyPair: (id: string, secret: string) => void } }).DUMMY_ACCOUNT.createKeyPair('AKIDOFFSITETEST', SECRET);
  server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3Dir, configureBuckets: [{ name: 'backups' }] });
  const addr = (await (server as unknown as { run: () => Promise<{ port: number }> }).run()) as { port: number };
  // the image's layout: /app/offsite.mjs, /app/clawdfly-agent.cjs, /app/offsite.json
  image = join(work, 'app');
  mkdirSync(image);
  copyFileSync(join(ROOT, 'templates', 'runtime', 'offsite.mjs'), join(image, 'offsite.mjs'));
  copyFileSync(join(ROOT, 'dist', 'agent', 'clawdfly-agent.cjs'), join(image, 'clawdfly-agent.cjs'));
  env = {
    PATH: process.env['PATH'] ?? '',
    AWS_ACCESS_KEY_ID: 'AKIDOFFSITETEST',
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${addr.port}`,
    AWS_REGION: 'auto',
    BUCKET_NAME: 'backups',
    CLAWDFLY_BACKUP_KEY: KEY,
    FLY_APP_NAME: 'offsite-test',
    TMPDIR: join(work, 'tmp'),
  };
  mkdirSync(env['TMPDIR']!);
});

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

/** A fresh state dir with a marker in a credentials file and a paired device. */
function stateDir(name: string): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'credentials', 'whatsapp', 'default'), { recursive: true });
  mkdirSync(join(dir, 'devices'));
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(join(dir, 'credentials', 'whatsapp', 'default', 'creds.json'), JSON.stringify({ marker: MARKER }));
  writeFileSync(join(dir, 'devices', 'paired.json'), JSON.stringify({ device: 'phone-1' }));
  writeFileSync(join(dir, 'tmp', 'scratch'), 'regenerable');
  writeFileSync(join(image, 'offsite.json'), JSON.stringify({ stateDir: dir, runtime: 'openclaw', excludes: ['tmp'], excludedLabels: ['tmp/'] }));
  return dir;
}

interface Ran { code: number | null; stdout: string; stderr: string }
function run(args: string[], extra: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(image, 'offsite.mjs'), ...args], { env: { ...env, ...extra } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const allOutput: string[] = [];
function noSecrets(r: Ran): Ran {
  allOutput.push(r.stdout, r.stderr);
  for (const text of [r.stdout, r.stderr]) {
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(KEY);
  }
  return r;
}

/** Every byte the S3 server stored, concatenated. */
function bucketBytes(): Buffer {
  const out: Buffer[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(join(d, e.name)) : out.push(readFileSync(join(d, e.name)));
  };
  walk(s3Dir);
  return Buffer.concat(out);
}

/** The stored object's file in s3rver's folder (its layout: <bucket>/<key>._S3rver_object). */
function storedObject(name: string): string {
  return join(s3Dir, 'backups', 'clawdfly', 'offsite-test', `${name}._S3rver_object`);
}

describe('offsite.mjs against a local S3 server', () => {
  it('once: uploads an encrypted copy, lists it, fetches it back as an archive restore reads', async () => {
    const dir = stateDir('state-once');
    const made = noSecrets(await run(['once']));
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const { name, size } = JSON.parse(made.stdout.trim().split('\n').pop()!);
    expect(name).toMatch(/^\d{8}T\d{6}Z\.tar\.enc$/);
    // encrypted: the header, and no plain text of the state in the bucket
    const stored = readFileSync(storedObject(name));
    expect(stored.length).toBe(size);
    expect(stored.subarray(0, 19).toString('ascii')).toBe('CLAWDFLY-OFFSITE-1\n');
    expect(bucketBytes().includes(MARKER)).toBe(false);
    // the status file: owner-only, no secrets
    const statusFile = join(dir, '.clawdfly-offsite.json');
    expect(statSync(statusFile).mode & 0o777).toBe(0o600);
    const status = JSON.parse(readFileSync(statusFile, 'utf8'));
    expect(status).toMatchObject({ lastObject: name, lastError: null });
    expect(readFileSync(statusFile, 'utf8')).not.toContain(SECRET);

    const listed = noSecrets(await run(['list', '--json']));
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout);
    expect(rows[0]).toMatchObject({ name, size });
    expect(Date.parse(rows[0].time)).toBe(offsite.timeOfName(name));

    const to = join(work, 'fetched.tar.gz');
    const fetched = noSecrets(await run(['fetch', name, '--to', to]));
    expect(fetched.code).toBe(0);
    const archive = await readArchive((await import('node:fs')).createReadStream(to));
    const paths = archive.files.map((f) => f.path);
    expect(paths).toContain('credentials/whatsapp/default/creds.json');
    expect(paths).toContain('devices/paired.json');
    expect(paths).not.toContain('tmp/scratch');
    expect(paths).not.toContain('.clawdfly-offsite.json');
  });

  it('fetch with a wrong key or from a tampered object: one line, exit 1, nothing at the path', async () => {
    stateDir('state-tamper');
    const made = await run(['once']);
    expect(made.code).toBe(0);
    const { name } = JSON.parse(made.stdout.trim().split('\n').pop()!);

    const wrongKeyTo = join(work, 'wrong-key.tar.gz');
    const wrong = noSecrets(await run(['fetch', name, '--to', wrongKeyTo], { CLAWDFLY_BACKUP_KEY: Buffer.alloc(32, 1).toString('base64') }));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toMatch(/does not decrypt with this CLAWDFLY_BACKUP_KEY/);
    expect(existsSync(wrongKeyTo)).toBe(false);

    const file = storedObject(name);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(file, bytes);
    const tamperedTo = join(work, 'tampered.tar.gz');
    const tampered = noSecrets(await run(['fetch', name, '--to', tamperedTo]));
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toMatch(/does not decrypt/);
    expect(existsSync(tamperedTo)).toBe(false);
    expect(readdirSync(work).filter((n) => n.includes('.partial-'))).toEqual([]);
  });

  it('two copies in the same second never overwrite each other', async () => {
    stateDir('state-same-second');
    const app = { FLY_APP_NAME: 'offsite-same-second' };
    const creds = offsite.readConfig({ ...env, ...app });
    // a copy already named for this second and the next: the new one takes the second after
    const now = Date.now();
    for (const t of [now, now + 1000]) await offsite.putObject(creds.s3, `${creds.prefix}${offsite.stampOf(t)}.tar.enc`, Buffer.from('earlier copy'));
    const made = noSecrets(await run(['once'], { ...app, CLAWDFLY_OFFSITE_KEEP: '10x1s' }));
    expect(made.code).toBe(0);
    const { name } = JSON.parse(made.stdout.trim().split('\n').pop()!);
    expect(offsite.timeOfName(name)).toBeGreaterThanOrEqual(Math.floor(now / 1000) * 1000 + 2000);
    const copies = await offsite.listCopies(creds);
    expect(copies).toHaveLength(3);
  });

  it('prunes by the policy only after the new copy is verified', async () => {
    stateDir('state-prune');
    const app = { FLY_APP_NAME: 'offsite-prune' };
    const creds = offsite.readConfig({ ...env, ...app });
    // older copies, as earlier runs left them: hourly for 3 hours, then daily
    const now = Date.now();
    const seeded = [now - 5 * DAY, now - 4 * DAY, now - 3 * HOUR, now - 2 * HOUR, now - HOUR].map((t) => `${offsite.stampOf(t)}.tar.enc`);
    for (const name of seeded) await offsite.putObject(creds.s3, `${creds.prefix}${name}`, Buffer.from('older copy'));
    const before = await offsite.listCopies(creds);
    const made = noSecrets(await run(['once'], { ...app, CLAWDFLY_OFFSITE_KEEP: '2x1h,2x1d' }));
    expect(made.code).toBe(0);
    const { name, pruned } = JSON.parse(made.stdout.trim().split('\n').pop()!);
    const after = (await offsite.listCopies(creds)).map((c: { name: string }) => c.name);
    const expected = offsite.retention([...before, { name, time: offsite.timeOfName(name) }], offsite.parseKeep('2x1h,2x1d'));
    expect(after).toEqual(expected.keep);
    expect(after[0]).toBe(name);
    expect(pruned.length).toBeGreaterThan(0);
    expect(after).not.toContain(seeded[0]);
  });

  it('a failed upload is one line and the status says why; nothing is pruned', async () => {
    const dir = stateDir('state-fail');
    const creds = offsite.readConfig(env);
    const before = (await offsite.listCopies(creds)).map((c: { name: string }) => c.name);
    const failed = noSecrets(await run(['once'], { AWS_SECRET_ACCESS_KEY: `${SECRET}-wrong` }));
    expect(failed.code).toBe(1);
    expect(failed.stderr.trim().split('\n')).toHaveLength(1);
    expect(failed.stderr).toMatch(/HTTP 403/);
    expect(failed.stderr).not.toContain(`${SECRET}-wrong`);
    const status = JSON.parse(readFileSync(join(dir, '.clawdfly-offsite.json'), 'utf8'));
    expect(status.lastError).toMatch(/HTTP 403/);
    expect((await offsite.listCopies(creds)).map((c: { name: string }) => c.name)).toEqual(before);
  });

  it('run: a copy every interval, pruned as it goes, failures retried, and it keeps going', async () => {
    const dir = stateDir('state-run');
    const child = spawn(process.execPath, [join(image, 'offsite.mjs'), 'run'], {
      env: { ...env, CLAWDFLY_OFFSITE_EVERY: '1s', CLAWDFLY_OFFSITE_KEEP: '2x1s', FLY_APP_NAME: 'offsite-run' },
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    try {
      const uploads = () => (out.match(/uploaded and verified/g) ?? []).length;
      for (let i = 0; i < 600 && uploads() < 4; i++) await new Promise((r) => setTimeout(r, 100));
      expect(uploads()).toBeGreaterThanOrEqual(4);
      expect(out).toMatch(/pruned \d+ older off-site cop/);
      const creds = offsite.readConfig({ ...env, FLY_APP_NAME: 'offsite-run' });
      const copies = await offsite.listCopies(creds);
      expect(copies.length).toBeLessThanOrEqual(3); // 2 kept + at most one being uploaded right now
      const status = JSON.parse(readFileSync(join(dir, '.clawdfly-offsite.json'), 'utf8'));
      expect(status).toMatchObject({ every: 1, lastError: null });
      expect(status.lastObject).toMatch(/\.tar\.enc$/);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain(KEY);
  }, 90_000);

  it('run: an unreachable bucket is logged, one line per try, and retried', async () => {
    const dir = stateDir('state-unreachable');
    const child = spawn(process.execPath, [join(image, 'offsite.mjs'), 'run'], { env: { ...env, CLAWDFLY_OFFSITE_EVERY: '1s', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' } });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    try {
      for (let i = 0; i < 300 && (out.match(/copy failed/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      const failures = out.split('\n').filter((l) => /copy failed/.test(l));
      expect(failures.length).toBeGreaterThanOrEqual(2);
      expect(failures[0]).toMatch(/ECONNREFUSED.*trying again in/);
      expect(JSON.parse(readFileSync(join(dir, '.clawdfly-offsite.json'), 'utf8')).lastError).toMatch(/ECONNREFUSED/);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 60_000);
});
