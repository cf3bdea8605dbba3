/**
 * Restore before start, on a temp folder as the volume, with the real pieces: the remote agent
 * (src/remote/agent/, as built into dist/agent/) makes an archive and stages it as `restore` does on a
 * machine whose image applies restores at boot; the entrypoint's prepare-data.mjs (as `init
 * --runtime openclaw` renders it, run with Node 24 as in the image) is the boot.
 *
 *   stage → boot: the restored tree is in place, the old one aside, tmp/ and lost+found untouched;
 *   → confirm: the old one and the marker are gone;
 *   stage → boot → boot again unconfirmed (the gateway never listened): the old state is back by itself;
 *   stage → boot → a boot long after, still unconfirmed (clawdfly was stopped): the restored state stays;
 *   stage → clawdfly's restart failed → discard: the state is as it was.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '../helpers/cli.js';
import { freshDir, init } from '../init/util.js';
import { ensureNode24 } from '../support/real-gateway.js';
import { agentCommand, agentInput } from '../../src/remote/agent-call.js';
import type { AgentOp, AgentParams } from '../../src/remote/agent/protocol.js';

let node24 = '';
let prepareData = '';

function temp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs one request of the remote agent as the machine runs it (agentCommand's argv, the agent framed on stdin before the payload). */
function archiveScript<K extends AgentOp>(op: K, dir: string, params: AgentParams[K], opts: { input?: Buffer } = {}): { status: number | null; stdout: Buffer; stderr: string } {
  const [, ...args] = agentCommand(op, dir, params);
  const r = spawnSync(node24, args, {
    input: agentInput(opts.input),
    env: { PATH: process.env['PATH'], CLAWDFLY_TEST_BOOT_APPLIER: prepareData },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

function boot(volume: string): string {
  const r = spawnSync(node24, [prepareData, '0'], { env: { PATH: process.env['PATH'], OPENCLAW_STATE_DIR: volume, TMPDIR: join(volume, 'tmp') }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

function read(volume: string, path: string): string {
  return readFileSync(join(volume, path), 'utf8');
}

function marker(volume: string): { state: string; preRestore?: string; failedRestore?: string } {
  return JSON.parse(read(volume, '.clawdfly-restore.json')) as { state: string; preRestore?: string; failedRestore?: string };
}

const EXCLUDES = ['tmp', 're:^gateway\\.[0-9a-f]{8}\\.lock$'];

/** A volume with the "old" state, and a staged archive of the "new" state (`tag`: restore's swap tag). */
function stagedVolume(tag?: string): string {
  const source = temp('clawdfly-source-');
  writeFileSync(join(source, 'openclaw.json'), '{"restored":true}\n');
  mkdirSync(join(source, 'devices'));
  writeFileSync(join(source, 'devices', 'paired.json'), '{"dev-1":{}}\n');
  const made = archiveScript('backup', source, { app: 'a', runtime: 'openclaw@2026.9.6', excludes: EXCLUDES });
  expect(made.status, made.stderr).toBe(0);

  const volume = temp('clawdfly-volume-');
  writeFileSync(join(volume, 'openclaw.json'), '{"old":true}\n');
  mkdirSync(join(volume, 'sessions'));
  writeFileSync(join(volume, 'sessions', 'old.jsonl'), 'old\n');
  mkdirSync(join(volume, 'tmp'));
  writeFileSync(join(volume, 'tmp', 'cache'), 'cache\n');
  mkdirSync(join(volume, 'lost+found'), { mode: 0o700 });
  const sha = createHash('sha256').update(made.stdout).digest('hex');
  const staged = archiveScript('restore', volume, { sha256: sha, excludes: EXCLUDES, ...(tag ? { tag } : {}) }, { input: made.stdout });
  expect(staged.status, staged.stderr).toBe(0);
  expect(JSON.parse(staged.stdout.toString('utf8'))).toMatchObject({ staged: true, files: 2 });
  // nothing changed yet: the gateway that still runs keeps writing into the old state
  expect(read(volume, 'openclaw.json')).toBe('{"old":true}\n');
  writeFileSync(join(volume, 'sessions', 'written-after-staging.jsonl'), 'by the old gateway\n');
  return volume;
}

beforeAll(async () => {
  node24 = await ensureNode24();
  const dir = freshDir();
  const r = await init(['--yes', '--runtime', 'openclaw', '--dir', dir, '--app', 'staged-restore'], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY } });
  expect(r.code, r.stderr).toBe(0);
  prepareData = join(dir, 'runtime', 'prepare-data.mjs');
}, 180_000);

describe('a restore staged on the volume, applied by the boot before the gateway starts', () => {
  it('the boot swaps it in (the old state aside, tmp/ and lost+found in place); the confirmation removes the old state', () => {
    const volume = stagedVolume();
    const log = boot(volume);
    expect(log).toMatch(/\[clawdfly\] restore applied before the gateway starts/);
    expect(read(volume, 'openclaw.json')).toBe('{"restored":true}\n');
    expect(read(volume, 'devices/paired.json')).toBe('{"dev-1":{}}\n');
    // what the old gateway wrote after the staging is in the old state, not in the restored one
    expect(readdirSync(volume)).not.toContain('sessions');
    expect(read(volume, 'tmp/cache')).toBe('cache\n');
    expect(readdirSync(volume)).toContain('lost+found');
    const { state, preRestore } = marker(volume);
    expect(state).toBe('applied');
    expect(read(volume, `${preRestore}/sessions/written-after-staging.jsonl`)).toBe('by the old gateway\n');

    const confirmed = archiveScript('confirm-restore', volume, { how: 'drop' });
    expect(confirmed.status, confirmed.stderr).toBe(0);
    expect(JSON.parse(confirmed.stdout.toString('utf8'))).toMatchObject({ confirmed: true, state: 'applied', dropped: true });
    expect(readdirSync(volume).sort()).toEqual(['devices', 'lost+found', 'openclaw.json', 'tmp', 'workspace']); // workspace: made by every boot
    // a later boot has nothing to do
    expect(boot(volume)).not.toContain('restore');
  });

  it('a boot that finds the restore still unconfirmed (the gateway never listened on it) puts the old state back by itself', () => {
    const volume = stagedVolume();
    boot(volume);
    expect(read(volume, 'openclaw.json')).toBe('{"restored":true}\n');
    const log = boot(volume);
    expect(log).toMatch(/\[clawdfly\] restore reverted/);
    expect(read(volume, 'openclaw.json')).toBe('{"old":true}\n');
    expect(read(volume, 'sessions/written-after-staging.jsonl')).toBe('by the old gateway\n');
    expect(read(volume, 'tmp/cache')).toBe('cache\n');
    const { state, failedRestore } = marker(volume);
    expect(state).toBe('reverted');
    expect(read(volume, `${failedRestore}/openclaw.json`)).toBe('{"restored":true}\n');
    expect(readdirSync(volume).filter((n) => n.startsWith('.pre-restore-') || n.startsWith('.clawdfly-staged-restore-'))).toEqual([]);

    // clawdfly reads the outcome (status changes nothing; a confirmation clears the marker)
    const status = archiveScript('confirm-restore', volume, { how: 'status' });
    expect(JSON.parse(status.stdout.toString('utf8'))).toMatchObject({ confirmed: false, state: 'reverted', failedRestore });
    expect(marker(volume).state).toBe('reverted');
    const seen = archiveScript('confirm-restore', volume, { how: 'drop' });
    expect(JSON.parse(seen.stdout.toString('utf8'))).toMatchObject({ confirmed: false, state: 'reverted' });
    expect(readdirSync(volume)).not.toContain('.clawdfly-restore.json');
    // and the next boot leaves the old state alone
    boot(volume);
    expect(read(volume, 'openclaw.json')).toBe('{"old":true}\n');
  });

  it('a staged restore whose restart never came (clawdfly restore interrupted) is discarded by a later boot, the state unchanged', () => {
    const volume = stagedVolume();
    const path = join(volume, '.clawdfly-restore.json');
    const staged = JSON.parse(readFileSync(path, 'utf8')) as { stagedAt: string; applyWithinMs: number };
    expect(staged.applyWithinMs).toBe(10 * 60_000);
    writeFileSync(path, JSON.stringify({ ...staged, stagedAt: new Date(Date.parse(staged.stagedAt) - 60 * 60_000).toISOString() }));
    expect(boot(volume)).toMatch(/\[clawdfly\] discarded a restore staged at .*: this boot is not the restart it was staged for/);
    expect(read(volume, 'openclaw.json')).toBe('{"old":true}\n');
    expect(readdirSync(volume).filter((n) => n.startsWith('.')).sort()).toEqual([]);
  });

  it('the staged tree carries the restore\'s tag (how a run that lost the answer to Ctrl-C finds it), and a discard takes it back', () => {
    const volume = stagedVolume('abc123');
    const { stage } = JSON.parse(read(volume, '.clawdfly-restore.json')) as { stage: string };
    expect(stage).toMatch(/^\.clawdfly-staged-restore-abc123[A-Za-z0-9]+$/);
    expect(readdirSync(volume)).toContain(stage);
    // a confirmation of a restore no boot applied changes nothing
    const status = archiveScript('confirm-restore', volume, { how: 'drop' });
    expect(JSON.parse(status.stdout.toString('utf8'))).toMatchObject({ confirmed: false, state: 'staged' });
    expect(readdirSync(volume)).toContain(stage);
    const discarded = archiveScript('confirm-restore', volume, { how: 'discard' });
    expect(discarded.status, discarded.stderr).toBe(0);
    expect(JSON.parse(discarded.stdout.toString('utf8'))).toMatchObject({ confirmed: false, state: 'discarded' });
    expect(readdirSync(volume).filter((n) => n.startsWith('.')).sort()).toEqual([]);
    expect(read(volume, 'openclaw.json')).toBe('{"old":true}\n');
    expect(boot(volume)).not.toContain('restore');
    expect(read(volume, 'openclaw.json')).toBe('{"old":true}\n');
  });

  it('a discard never undoes a restore a boot applied', () => {
    const volume = stagedVolume();
    boot(volume);
    const r = archiveScript('confirm-restore', volume, { how: 'discard' });
    expect(JSON.parse(r.stdout.toString('utf8'))).toMatchObject({ confirmed: false, state: 'applied' });
    expect(read(volume, 'openclaw.json')).toBe('{"restored":true}\n');
    expect(marker(volume).state).toBe('applied');
  });

  it('a boot long after an applied restore that clawdfly never confirmed keeps the restored state (the gateway ran on it)', () => {
    const volume = stagedVolume();
    boot(volume);
    const path = join(volume, '.clawdfly-restore.json');
    const applied = JSON.parse(readFileSync(path, 'utf8')) as { appliedAt: string; preRestore: string };
    writeFileSync(path, JSON.stringify({ ...applied, appliedAt: new Date(Date.parse(applied.appliedAt) - 60 * 60_000).toISOString() }));
    expect(boot(volume)).toMatch(/\[clawdfly\] kept the restore applied at .* \(never confirmed by clawdfly/);
    expect(read(volume, 'openclaw.json')).toBe('{"restored":true}\n');
    expect(readdirSync(volume)).not.toContain('.clawdfly-restore.json');
    // the replaced state stays aside (doctor lists it; doctor --fix removes it)
    expect(read(volume, `${applied.preRestore}/openclaw.json`)).toBe('{"old":true}\n');
    expect(boot(volume)).not.toContain('restore');
  });

  it('a marker that names no staged tree is dropped by the boot, the state unchanged', () => {
    const volume = stagedVolume();
    const { stage } = marker(volume) as { stage?: string } & ReturnType<typeof marker>;
    rmSync(join(volume, stage!), { recursive: true });
    expect(boot(volume)).toMatch(/\[clawdfly\] discarded .*\.clawdfly-restore\.json: it names no staged tree/);
    expect(readdirSync(volume)).not.toContain('.clawdfly-restore.json');
    expect(read(volume, 'openclaw.json')).toBe('{"old":true}\n');
  });
});
