/**
 * The remote agent against temp folders, run the way `fly ssh` runs it (agent-harness.ts): as root
 * it first becomes the owner of the state dir, so a root-only file there stays unread and what it
 * writes belongs to the owner; a link planted there is never followed; run as the owner itself it
 * does the same work without any drop.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, createWriteStream, existsSync, lchownSync, lstatSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { readArchive } from '../../src/remote/agent/archive.js';
import { AGENT_STATUS } from '../../src/remote/agent/protocol.js';
import { AGENT_BUNDLE, agentCommand, agentInput } from '../../src/remote/agent-call.js';
import { fileAs, openTemp, OTHER_UID, runAgent, stateDir } from './agent-harness.js';

const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));
function parent(): string {
  const t = openTemp('clawdfly-agent-');
  temps.push(t);
  return t;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const owner = (p: string) => ({ uid: lstatSync(p).uid, gid: lstatSync(p).gid });

/** A backup of `dir` by the agent: the verified archive, its bytes. */
async function backupOf(dir: string, opts: { uid?: number; gid?: number } = {}) {
  const r = runAgent('backup', dir, { app: 'a', runtime: 'openclaw', excludes: ['tmp'] }, opts);
  expect(r.status, r.stderr).toBe(0);
  return { archive: await readArchive(Readable.from([r.stdout])), bytes: r.stdout, stderr: r.stderr };
}

describe('the agent as root drops to the owner of the state dir', () => {
  it('backup: runs as the owner (a root-only file is skipped as unreadable, not read), never follows a planted link', async () => {
    expect(process.getuid!()).toBe(0);
    const dir = stateDir(parent(), OTHER_UID);
    fileAs(dir, 'openclaw.json', '{"a":1}', OTHER_UID, 0o600);
    fileAs(dir, 'agents/main/session.json', 'S', OTHER_UID);
    fileAs(dir, 'tmp/cache', 'x', OTHER_UID);
    writeFileSync(join(dir, 'root-only'), 'secret of root', { mode: 0o600 }); // made by root
    symlinkSync('/etc/shadow', join(dir, 'shadow-link'));
    lchownSync(join(dir, 'shadow-link'), OTHER_UID, OTHER_UID);

    const { archive, stderr } = await backupOf(dir);
    expect(stderr).toMatch(/^__TOTAL \d+ \d+$/m);
    expect(archive.files.map((f) => f.path).sort()).toEqual(['agents/main/session.json', 'openclaw.json']);
    expect(archive.manifest.skipped).toEqual(expect.arrayContaining([
      { path: 'root-only', reason: 'not readable by the owner of the state dir' },
      { path: 'shadow-link', reason: 'symlink', target: '/etc/shadow' },
    ]));
    expect(archive.files.find((f) => f.path === 'openclaw.json')!.sha256).toBe(sha('{"a":1}'));
  });

  it('restore: the new files belong to the owner, the old tree is set aside, a planted link is moved, never written through', async () => {
    const dir = stateDir(parent(), OTHER_UID);
    fileAs(dir, 'openclaw.json', '{"v":1}', OTHER_UID, 0o600);
    fileAs(dir, 'credentials/creds.json', 'C1', OTHER_UID, 0o600);
    const { archive, bytes } = await backupOf(dir);
    // after the backup: the state changed, and a link to a root file outside was planted
    const outside = join(parent(), 'root-file');
    writeFileSync(outside, 'root owns this', { mode: 0o644 });
    writeFileSync(join(dir, 'openclaw.json'), '{"v":2}');
    rmSync(join(dir, 'credentials'), { recursive: true });
    symlinkSync(outside, join(dir, 'credentials'));
    lchownSync(join(dir, 'credentials'), OTHER_UID, OTHER_UID);

    const r = runAgent('restore', dir, { sha256: archive.archiveSha256, excludes: ['tmp'], tag: 'T1' }, { payload: bytes });
    expect(r.status, r.stderr).toBe(0);
    const answer = r.json();
    expect(answer).toMatchObject({ restored: true, files: 2, problems: [], movedAside: ['credentials', 'openclaw.json'] });
    expect(readFileSync(join(dir, 'openclaw.json'), 'utf8')).toBe('{"v":1}');
    expect(readFileSync(join(dir, 'credentials/creds.json'), 'utf8')).toBe('C1');
    for (const p of ['openclaw.json', 'credentials', 'credentials/creds.json', answer.preRestore]) expect(owner(join(dir, p)), p).toEqual({ uid: OTHER_UID, gid: OTHER_UID });
    expect(readFileSync(outside, 'utf8')).toBe('root owns this');
    expect(readlinkSync(join(dir, answer.preRestore, 'credentials'))).toBe(outside);
    expect(readdirSync(dir).filter((n) => n.startsWith('.clawdfly-restore-'))).toEqual([]);

    // the swap is found again by its tag, and its folder removed by name only
    expect(runAgent('find-swap', dir, { tag: 'T1' }).json()).toEqual({ preRestore: [answer.preRestore], staged: [] });
    const refused = runAgent('drop-previous', dir, { name: '../data' });
    expect(refused.status).toBe(AGENT_STATUS.refused);
    expect(runAgent('drop-previous', dir, { name: answer.preRestore }).status).toBe(0);
    expect(existsSync(join(dir, answer.preRestore))).toBe(false);
  });

  it('restore of a damaged upload: exit "damaged", nothing changed, no temp dir left', async () => {
    const dir = stateDir(parent(), OTHER_UID);
    fileAs(dir, 'openclaw.json', '{"v":1}', OTHER_UID);
    const { archive, bytes } = await backupOf(dir);
    const r = runAgent('restore', dir, { sha256: archive.archiveSha256, excludes: [] }, { payload: bytes.subarray(0, bytes.length - 40) });
    expect(r.status).toBe(AGENT_STATUS.damaged);
    expect(readdirSync(dir)).toEqual(['openclaw.json']);
  });

  it('an upgrade snapshot: copies owned by the owner, a link copied as a link, restored and discarded without touching a link target', () => {
    const dir = stateDir(parent(), OTHER_UID);
    fileAs(dir, 'clawdbot.json', '{"old":true}', OTHER_UID, 0o600);
    fileAs(dir, 'agents/main/sessions.json', '[]', OTHER_UID);
    fileAs(dir, 'workspace/notes.md', 'n', OTHER_UID);
    const outside = join(parent(), 'outside');
    writeFileSync(outside, 'keep me');
    symlinkSync(outside, join(dir, 'link'));
    lchownSync(join(dir, 'link'), OTHER_UID, OTHER_UID);

    const snap = runAgent('upgrade-snapshot', dir, { notSnapshotted: ['tmp', 'workspace'] });
    expect(snap.status, snap.stderr).toBe(0);
    const { snapshot, skipped } = snap.json();
    expect(snapshot).toMatch(/^\.clawdfly-pre-upgrade-[A-Za-z0-9]+$/);
    expect(skipped).toEqual([]);
    const copy = join(dir, snapshot);
    expect(readdirSync(copy).sort()).toEqual(['agents', 'clawdbot.json', 'link']);
    expect(readlinkSync(join(copy, 'link'))).toBe(outside);
    expect(statSync(join(copy, 'clawdbot.json')).mode & 0o777).toBe(0o600);
    for (const p of ['', 'clawdbot.json', 'agents/main/sessions.json']) expect(owner(join(copy, p)), p).toEqual({ uid: OTHER_UID, gid: OTHER_UID });

    // the newer gateway writes its own files; the rollback puts the old ones back
    fileAs(dir, 'openclaw.json', '{"new":true}', OTHER_UID);
    writeFileSync(join(dir, 'clawdbot.json'), 'changed by the new gateway');
    const back = runAgent('upgrade-snapshot-restore', dir, { snapshot, notSnapshotted: ['tmp', 'workspace'] });
    expect(back.status, back.stderr).toBe(0);
    const { aside } = back.json();
    expect(readFileSync(join(dir, 'clawdbot.json'), 'utf8')).toBe('{"old":true}');
    expect(existsSync(join(dir, 'openclaw.json'))).toBe(false);
    expect(readFileSync(join(dir, aside, 'openclaw.json'), 'utf8')).toBe('{"new":true}');
    expect(readFileSync(join(dir, 'workspace/notes.md'), 'utf8')).toBe('n');

    expect(runAgent('upgrade-aside-discard', dir, { aside, ownEntries: ['../outside', 'link'] }).status).toBe(0);
    expect(existsSync(join(dir, aside))).toBe(false);
    expect(existsSync(join(dir, 'link'))).toBe(false); // the link itself, named as the new gateway's
    expect(readFileSync(outside, 'utf8')).toBe('keep me');
    expect(runAgent('upgrade-snapshot-drop', dir, { snapshot: '.clawdfly-pre-upgrade-../x' }).status).toBe(AGENT_STATUS.refused);
  });
});

describe('read-only probes', () => {
  it('find-files: `*` is one name (not a leading dot), and a linked folder is never entered', () => {
    const dir = stateDir(parent(), OTHER_UID);
    fileAs(dir, 'agents/main/agent/auth-profiles.json', '{}', OTHER_UID);
    fileAs(dir, 'agents/.hidden/agent/auth-profiles.json', '{}', OTHER_UID);
    const elsewhere = parent();
    fileAs(elsewhere, 'agent/auth-profiles.json', '{}', 0);
    symlinkSync(elsewhere, join(dir, 'agents', 'linked'));
    const r = runAgent('find-files', dir, { globs: ['agents/*/agent/auth-profiles.json', '../*'] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.json()).toEqual({ found: ['agents/main/agent/auth-profiles.json'] });
  });
});

describe('doctor --fix: leftovers', () => {
  it('remove-leftovers removes our real folders only: a link with our name stays, its target untouched, other names skipped', () => {
    const dir = stateDir(parent(), OTHER_UID);
    fileAs(dir, '.clawdfly-restore-Abc123/x', 'x', OTHER_UID);
    const target = parent();
    fileAs(target, 'keep', 'k', 0);
    symlinkSync(target, join(dir, '.clawdfly-post-upgrade-Link1234'));
    lchownSync(join(dir, '.clawdfly-post-upgrade-Link1234'), OTHER_UID, OTHER_UID);
    fileAs(dir, 'agents/main/x', 'x', OTHER_UID);
    const r = runAgent('remove-leftovers', dir, { names: ['.clawdfly-restore-Abc123', '.clawdfly-post-upgrade-Link1234', 'agents', '../data'] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.json()).toEqual({ removed: ['.clawdfly-restore-Abc123'], skipped: ['.clawdfly-post-upgrade-Link1234', 'agents', '../data'] });
    expect(readdirSync(dir).sort()).toEqual(['.clawdfly-post-upgrade-Link1234', 'agents']);
    expect(readFileSync(join(target, 'keep'), 'utf8')).toBe('k');
  });
});

describe('doctor: the probe and the stale-lock removal', () => {
  const LOCK = { lockDirPrefix: 'clawdbot-', lockName: '^gateway\\.[0-9a-f]{8}\\.lock$' };
  /** A pid that ran and is gone (a child that exited). */
  const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;
  /** A /proc look-alike (what flyctl's double gives the agent): `pid` alive with start time `start`. */
  function procTable(entries: [number, number][]): string {
    const root = parent();
    for (const [pid, start] of entries) fileAs(root, `${pid}/stat`, `${pid} (node) S ${Array(18).fill(0).join(' ')} ${start} 0 0\n`, 0);
    return root;
  }

  it('doctor-probe as root: as the owner (a root-only config is unreadable), links never followed, a lock judged by the process table', () => {
    const top = parent();
    const dir = stateDir(top, OTHER_UID);
    fileAs(dir, 'clawdbot.json', '{"gateway":{}}', OTHER_UID, 0o600);
    fileAs(dir, 'secret.json', '{}', 0, 0o600);
    symlinkSync('/etc/hostname', join(dir, 'linked.json'));
    fileAs(dir, 'gateway.0000000a.lock', JSON.stringify({ pid: process.pid }), OTHER_UID);
    fileAs(dir, 'gateway.0000000b.lock', JSON.stringify({ pid: deadPid() }), OTHER_UID);
    symlinkSync('/etc/hostname', join(dir, 'gateway.0000000c.lock'));
    fileAs(dir, 'tmp/clawdbot-1000/gateway.0000000d.lock', JSON.stringify({ pid: 4242 }), OTHER_UID);
    const elsewhere = parent();
    fileAs(elsewhere, 'gateway.0000000e.lock', JSON.stringify({ pid: 1 }), 0);
    symlinkSync(elsewhere, join(dir, 'tmp', 'clawdbot-1001'));
    fileAs(dir, '.clawdfly-restore-Abc123/x', 'x'.repeat(5000), OTHER_UID);
    fileAs(dir, '.clawdfly-restore.json', '{\n  "state": "applied"\n}', OTHER_UID);
    const words = [`c:${dir}/clawdbot.json`, `c:${dir}/secret.json`, `c:${dir}/linked.json`, `c:${dir}/none.json`, `s:${dir}`, `t:${dir}/tmp`, `w:${dir}/workspace`, `w:${dir}`] as const;
    const r = runAgent('doctor-probe', dir, { ...LOCK, maxConfigBytes: 8 }, { words: [...words] });
    expect(r.status, r.stderr).toBe(0);
    const probe = r.json();
    expect(probe.configs).toEqual([
      { path: `${dir}/clawdbot.json`, exists: true, regular: true, readable: true, bytes: 14, mode: '600', text64: Buffer.from('{"gatewa').toString('base64') },
      { path: `${dir}/secret.json`, exists: true, regular: true, readable: false, bytes: 2, mode: '600' },
      { path: `${dir}/linked.json`, exists: true, regular: false, readable: false },
      { path: `${dir}/none.json`, exists: false, regular: false, readable: false },
    ]);
    expect(probe.stateDirs).toEqual([{ path: dir, exists: true, writable: true }]);
    expect(probe.workspaces).toEqual([{ path: `${dir}/workspace`, exists: false, writable: false }, { path: dir, exists: true, writable: true }]);
    const locks = Object.fromEntries(probe.locks.map((l: { path: string; alive: boolean; procStart?: number }) => [l.path.slice(dir.length + 1), [l.alive, typeof l.procStart]]));
    expect(locks).toEqual({ 'gateway.0000000a.lock': [true, 'number'], 'gateway.0000000b.lock': [false, 'undefined'], 'tmp/clawdbot-1000/gateway.0000000d.lock': [false, 'undefined'] });
    expect(probe.leftovers).toEqual([{ path: `${dir}/.clawdfly-restore-Abc123`, kb: expect.any(Number), mtime: expect.any(Number) }]);
    expect(probe.leftovers[0].kb).toBeGreaterThanOrEqual(4);
    expect(probe.restoreMarker).toEqual({ path: `${dir}/.clawdfly-restore.json`, state: 'applied' });

    // the double's process table instead of the host's: pid 4242 alive there, this process not
    const fake = runAgent('doctor-probe', dir, { ...LOCK, maxConfigBytes: 8 }, { words: [`s:${dir}`, `t:${dir}/tmp`], env: { CLAWDFLY_TEST_PROC_ROOT: procTable([[4242, 777]]) } });
    expect(fake.json().locks.map((l: { alive: boolean; procStart?: number }) => [l.alive, l.procStart])).toEqual([[false, undefined], [false, undefined], [true, 777]]);
  });

  it('remove-stale-lock as root: removes a dead owner\'s lock and one whose pid is now another process; keeps a live one; never a link, nothing outside the lock dirs', () => {
    const top = parent();
    const dir = stateDir(top, OTHER_UID);
    const target = parent();
    fileAs(target, 'keep', 'k', 0);
    fileAs(dir, 'gateway.0000000a.lock', JSON.stringify({ pid: 4242, startTime: 777 }), OTHER_UID); // alive, same start
    fileAs(dir, 'gateway.0000000b.lock', JSON.stringify({ pid: 4243, startTime: 777 }), OTHER_UID); // pid reused
    fileAs(dir, 'tmp/clawdbot-1000/gateway.0000000c.lock', JSON.stringify({ pid: 9 }), OTHER_UID); // dead
    symlinkSync(join(target, 'keep'), join(dir, 'gateway.0000000d.lock'));
    fileAs(dir, 'other/gateway.0000000e.lock', JSON.stringify({ pid: 9 }), OTHER_UID);
    const f = (rel: string) => `f:${dir}/${rel}` as const;
    const r = runAgent('remove-stale-lock', dir, LOCK, {
      words: [`s:${dir}`, `t:${dir}/tmp`, f('gateway.0000000a.lock'), f('gateway.0000000b.lock'), f('tmp/clawdbot-1000/gateway.0000000c.lock'), f('gateway.0000000d.lock'), f('other/gateway.0000000e.lock'), f('tmp/clawdbot-1000/../gateway.0000000a.lock')],
      env: { CLAWDFLY_TEST_PROC_ROOT: procTable([[4242, 777], [4243, 778]]) },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.json()).toEqual({
      removed: [`${dir}/gateway.0000000b.lock`, `${dir}/tmp/clawdbot-1000/gateway.0000000c.lock`],
      kept: [`${dir}/gateway.0000000a.lock`],
      skipped: [`${dir}/gateway.0000000d.lock`, `${dir}/other/gateway.0000000e.lock`, `${dir}/tmp/clawdbot-1000/../gateway.0000000a.lock`],
    });
    expect(existsSync(join(dir, 'gateway.0000000a.lock'))).toBe(true);
    expect(existsSync(join(dir, 'other/gateway.0000000e.lock'))).toBe(true);
    expect(readFileSync(join(target, 'keep'), 'utf8')).toBe('k');
  });

  it('as uid 1000: removes a stale lock in its own state dir, cannot remove one in a folder of root, cannot read a root-only config', () => {
    const dir = stateDir(parent(), OTHER_UID);
    fileAs(dir, 'gateway.0000000a.lock', JSON.stringify({ pid: 9 }), OTHER_UID);
    fileAs(dir, 'rootdir/clawdbot-1000/gateway.0000000b.lock', JSON.stringify({ pid: 9 }), 0);
    fileAs(dir, 'root.json', '{}', 0, 0o600);
    const as1000 = { uid: OTHER_UID, gid: OTHER_UID, env: { CLAWDFLY_TEST_PROC_ROOT: procTable([]) } };
    const r = runAgent('remove-stale-lock', dir, LOCK, { ...as1000, words: [`s:${dir}`, `t:${dir}/rootdir`, `f:${dir}/gateway.0000000a.lock`, `f:${dir}/rootdir/clawdbot-1000/gateway.0000000b.lock`] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.json()).toEqual({ removed: [`${dir}/gateway.0000000a.lock`], kept: [], skipped: [`${dir}/rootdir/clawdbot-1000/gateway.0000000b.lock`] });
    expect(existsSync(join(dir, 'rootdir/clawdbot-1000/gateway.0000000b.lock'))).toBe(true);
    const probe = runAgent('doctor-probe', dir, { ...LOCK, maxConfigBytes: 100 }, { ...as1000, words: [`c:${dir}/root.json`, `s:${dir}`] }).json();
    expect(probe.configs).toEqual([{ path: `${dir}/root.json`, exists: true, regular: true, readable: false, bytes: 2, mode: '600' }]);
  });
});

describe('the agent run as the owner itself (no drop needed)', () => {
  it('backs up its own state dir, and cannot touch a state dir of root', async () => {
    const dir = stateDir(parent(), OTHER_UID);
    fileAs(dir, 'openclaw.json', '{}', OTHER_UID, 0o600);
    const { archive } = await backupOf(dir, { uid: OTHER_UID, gid: OTHER_UID });
    expect(archive.files.map((f) => f.path)).toEqual(['openclaw.json']);

    const rootDir = stateDir(parent(), 0, 'rootdata');
    writeFileSync(join(rootDir, 'x'), 'x');
    const r = runAgent('upgrade-snapshot', rootDir, { notSnapshotted: [] }, { uid: OTHER_UID, gid: OTHER_UID });
    expect(r.status).not.toBe(0);
    expect(readdirSync(rootDir)).toEqual(['x']);
  });
});

describe('the agent refuses what it does not understand', () => {
  it('an unknown request or a relative state dir: exit "badRequest", one line on stderr', () => {
    const dir = stateDir(parent(), OTHER_UID);
    const unknown = runAgent('nonsense' as 'backup', dir, {});
    expect(unknown.status).toBe(AGENT_STATUS.badRequest);
    expect(unknown.stderr).toMatch(/^unknown request "nonsense"/);
    expect(runAgent('backup', 'data', {}).status).toBe(AGENT_STATUS.badRequest);
  });

  it('stdin that ends before the agent arrived (a cut connection): exit 9, nothing run', () => {
    const dir = stateDir(parent(), OTHER_UID);
    const [, ...args] = agentCommand('upgrade-snapshot', dir, { notSnapshotted: [] });
    const frame = agentInput();
    const r = spawnSync(process.execPath, args, { input: frame.subarray(0, frame.length >> 1) });
    expect(r.status).toBe(9);
    expect(r.stderr.toString()).toContain('stdin ended before the agent arrived');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('the bundle inside the image', () => {
  it('require()s and writes an archive with createArchive that readArchive verifies', async () => {
    const dir = stateDir(parent(), OTHER_UID);
    fileAs(dir, 'openclaw.json', '{"image":true}', OTHER_UID);
    const agent = createRequire(import.meta.url)(join(process.cwd(), ...AGENT_BUNDLE)) as { createArchive: Function; readArchive: typeof readArchive };
    const file = join(parent(), 'out.tar.gz');
    const out = createWriteStream(file);
    const manifest = await agent.createArchive(dir, { app: 'a', runtime: 'openclaw' }, out);
    await new Promise((r) => out.end(r));
    expect(manifest.files.map((f: { path: string }) => f.path)).toEqual(['openclaw.json']);
    const verified = await agent.readArchive(createReadStream(file));
    expect(verified.files[0]!.sha256).toBe(sha('{"image":true}'));
  });

  it('runs a request when required as a program (the off-site uploader in the image spawns it so)', async () => {
    const dir = stateDir(parent(), OTHER_UID);
    fileAs(dir, 'openclaw.json', '{"sidecar":true}', OTHER_UID);
    const meta = Buffer.from(JSON.stringify({ app: 'a', runtime: 'openclaw' })).toString('base64url');
    // where the image keeps it (/app): outside the checkout, which may sit in a folder uid 1000 cannot enter
    const bundle = join(parent(), 'clawdfly-agent.cjs');
    copyFileSync(join(process.cwd(), ...AGENT_BUNDLE), bundle);
    const r = spawnSync(process.execPath, ['-e', 'globalThis.__clawdflyRemote=1;require(process.argv[1])', bundle, 'backup', dir, meta], { uid: OTHER_UID, gid: OTHER_UID, cwd: '/' });
    expect(r.status, r.stderr.toString()).toBe(0);
    const verified = await readArchive(Readable.from([r.stdout]));
    expect(verified.files.map((f) => f.path)).toEqual(['openclaw.json']);
  });
});

