/**
 * The agent's tar codec (src/remote/agent/tar.ts) against the two tar programs people have: what
 * the agent writes, GNU tar and bsdtar (libarchive) unpack to the same bytes, modes and names; what
 * they write (GNU tar's own format with its long-name members, and pax), the agent's reader reads to
 * the same bytes; a link they write is refused by the archive reader, never followed or extracted.
 * bsdtar comes from Debian's libarchive-tools (.ci/run installs it).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readArchive } from '../../src/remote/agent/archive.js';
import { createArchive } from '../../src/remote/agent/create-archive.js';
import { TarReader, type TarEntry } from '../../src/remote/agent/tar.js';
import { createReadStream } from 'node:fs';

const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));
function temp(): string {
  const t = mkdtempSync(join(tmpdir(), 'clawdfly-tar-'));
  temps.push(t);
  return t;
}

const LONG_DIR = `agents/${'very-long-folder-name-'.repeat(4)}`;
/** Names and sizes that exercise the format: a name over 100 bytes (pax / GNU L), non-ASCII, empty and multi-block files, modes. */
const FILES: { path: string; content: Buffer; mode: number }[] = [
  { path: 'openclaw.json', content: Buffer.from('{"gateway":{}}\n'), mode: 0o600 },
  { path: 'empty', content: Buffer.alloc(0), mode: 0o644 },
  { path: `${LONG_DIR}/${'session-'.repeat(10)}.jsonl`, content: randomBytes(70_000), mode: 0o640 },
  { path: 'credentials/登录凭据 é.json', content: Buffer.from('{"k":"v"}'), mode: 0o600 },
  { path: 'exactly-512', content: Buffer.alloc(512, 7), mode: 0o755 },
];

function makeTree(root: string): void {
  for (const f of FILES) {
    mkdirSync(join(root, f.path, '..'), { recursive: true });
    writeFileSync(join(root, f.path), f.content);
    chmodSync(join(root, f.path), f.mode);
  }
}

/** Every regular file under `root`: relative path → { sha256, mode }. */
function readTree(root: string): Record<string, { sha256: string; mode: number }> {
  const out: Record<string, { sha256: string; mode: number }> = {};
  for (const rel of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    const abs = join(root, rel);
    if (statSync(abs).isFile()) out[relative(root, abs)] = { sha256: createHash('sha256').update(readFileSync(abs)).digest('hex'), mode: statSync(abs).mode & 0o777 };
  }
  return out;
}

const expected = () => Object.fromEntries(FILES.map((f) => [f.path, { sha256: createHash('sha256').update(f.content).digest('hex'), mode: f.mode }]));

function run(cmd: string, args: string[]): string {
  // a UTF-8 locale: bsdtar refuses to write a non-ASCII name in the C locale a bare CI shell has
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  expect(r.status, `${cmd} ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** What our reader sees in a .tar.gz: each file member's name → sha256, and the other members' types. */
function readWithAgent(file: string): { files: Record<string, string>; others: TarEntry[] } {
  const files: Record<string, string> = {};
  const others: TarEntry[] = [];
  let current: { name: string; hash: ReturnType<typeof createHash> } | null = null;
  const reader = new TarReader({
    onEntry: (e) => {
      current = e.type === '0' ? { name: e.name, hash: createHash('sha256') } : null;
      if (e.type !== '0') others.push(e);
    },
    onData: (chunk) => current?.hash.update(chunk),
    onEntryEnd: () => {
      if (current) files[current.name] = current.hash.digest('hex');
      current = null;
    },
  });
  reader.push(gunzipSync(readFileSync(file)));
  reader.end();
  return { files, others };
}

describe('what the agent writes, GNU tar and bsdtar read', () => {
  it.each(['tar', 'bsdtar'])('%s unpacks an agent archive to the same bytes, modes and names (and lists the manifest last)', async (tar) => {
    const src = temp();
    makeTree(src);
    const file = join(temp(), 'a.tar.gz');
    const out = createWriteStream(file);
    await createArchive(src, { app: 'a', runtime: 'openclaw' }, out);
    await new Promise((r) => out.end(r));
    const dest = temp();
    run(tar, ['-xzf', file, '-C', dest]);
    const got = readTree(dest);
    const manifest = got['.clawdfly-backup.json'];
    delete got['.clawdfly-backup.json'];
    expect(manifest).toBeDefined();
    expect(got).toEqual(expected());
    expect(run(tar, ['-tzf', file]).trim().split('\n').pop()).toBe('.clawdfly-backup.json');
  });
});

describe('what GNU tar and bsdtar write, the agent reads', () => {
  const writers: [string, string, string[]][] = [
    ['GNU tar (its default gnu format: long names as L members)', 'tar', ['--format=gnu']],
    ['GNU tar --format=posix (pax)', 'tar', ['--format=posix']],
    ['bsdtar (its default: ustar, pax where needed)', 'bsdtar', []],
    ['bsdtar --format=pax', 'bsdtar', ['--format=pax']],
  ];
  it.each(writers)('%s', (_label, tar, flags) => {
    const src = temp();
    makeTree(src);
    const file = join(temp(), 'b.tar.gz');
    run(tar, [...flags, '-czf', file, '-C', src, ...FILES.map((f) => f.path)]);
    const { files } = readWithAgent(file);
    expect(files).toEqual(Object.fromEntries(FILES.map((f) => [f.path, createHash('sha256').update(f.content).digest('hex')])));
  });

  it.each(['tar', 'bsdtar'])('a link member written by %s is refused by the archive reader, never followed or extracted', async (tar) => {
    const src = temp();
    writeFileSync(join(src, 'real'), 'x');
    symlinkSync('/etc/passwd', join(src, 'link'));
    const file = join(temp(), 'c.tar.gz');
    run(tar, ['-czf', file, '-C', src, 'real', 'link']);
    expect(readWithAgent(file).others.map((e) => [e.name, e.type])).toEqual([['link', '2']]);
    await expect(readArchive(createReadStream(file))).rejects.toThrow(/link or special file \(link, type 2\): refused/);
  });
});
