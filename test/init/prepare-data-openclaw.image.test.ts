/**
 * The entrypoint's volume preparation as `init --runtime openclaw` renders it, run with Node on a
 * temp folder as the volume: openclaw keeps its lock dirs under `<state>/tmp/openclaw-<uid>/`
 * whatever TMPDIR says (measured on 2026.9.6), so a lock whose owner is gone is removed from there
 * (`gateway.<8 hex>.lock` and `gateway.state.lock`), one whose owner is alive is kept, and the
 * gateway's `.lock.sqlite` siblings are not touched. openclaw also keeps a gateway owner lease in
 * `<state>/state/openclaw.sqlite`: one whose owner is provably gone is released (the rest of that
 * table untouched), a live or expired one is left alone, and a broken database never stops the start.
 * It runs on Node 24, as in the image (node:sqlite is what it opens the database with).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '../helpers/cli.js';
import { freshDir, init } from './util.js';
import { ensureNode24 } from '../support/real-gateway.js';
import { RUNTIMES } from '../../src/gateway/runtime.js';

const LEASE = RUNTIMES['openclaw@2026.9.6']!.ownerLease!;
let node24 = '';
let projectDir = '';

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** Start time of a pid in clock ticks since boot (field 22 of /proc/<pid>/stat), as openclaw records it. */
function startTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

interface LeaseRow {
  scope: string;
  key: string;
  owner: string;
  createdAt: number;
  expiresAt: number | null;
  payload: unknown;
}

/** Node 24 with node:sqlite: runs `script` with the database path and JSON `input` as arguments. */
function sqlite(db: string, script: string, input: unknown = null): unknown {
  const r = spawnSync(node24, ['-e', `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.argv[1]); const input = JSON.parse(process.argv[2]); const out = (() => { ${script} })(); db.close(); process.stdout.write(JSON.stringify(out ?? null));`, db, JSON.stringify(input)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

/** openclaw's state database with its state_leases table (schema from its dist) and these rows. */
function leaseDb(volume: string, rows: LeaseRow[]): string {
  const path = join(volume, LEASE.database);
  mkdirSync(dirname(path), { recursive: true });
  sqlite(
    path,
    `db.exec('PRAGMA journal_mode = WAL');
     db.exec('CREATE TABLE ${LEASE.table} (scope TEXT NOT NULL, lease_key TEXT NOT NULL, owner TEXT NOT NULL, expires_at INTEGER, heartbeat_at INTEGER, payload_json TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (scope, lease_key)) STRICT');
     const insert = db.prepare('INSERT INTO ${LEASE.table} VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
     for (const r of input) insert.run(r.scope, r.key, r.owner, r.expiresAt, r.createdAt, JSON.stringify(r.payload), r.createdAt, r.createdAt);`,
    rows,
  );
  return path;
}

function leaseOwners(path: string): string[] {
  return sqlite(path, `return db.prepare('SELECT scope, lease_key, owner FROM ${LEASE.table} ORDER BY scope').all().map((r) => r.scope + '/' + r.lease_key + '=' + r.owner);`) as string[];
}

/** The rendered prepare-data.mjs run on Node 24 with `volume` as the state dir; `execPid` is its argument. */
function prepare(volume: string, execPid = 0) {
  const otherTmp = mkdtempSync(join(tmpdir(), 'clawdfly-prep-tmp-'));
  return spawnSync(node24, [join(projectDir, 'runtime', 'prepare-data.mjs'), String(execPid)], {
    env: { PATH: process.env['PATH'], OPENCLAW_STATE_DIR: volume, TMPDIR: otherTmp },
    encoding: 'utf8',
  });
}

function gatewayLease(owner: string, pid: number, o: { startedAt?: number | null; createdAt?: number; expiresAt?: number | null } = {}): LeaseRow {
  const now = Date.now();
  return {
    scope: LEASE.scope,
    key: LEASE.key,
    owner,
    createdAt: o.createdAt ?? now - 20_000,
    expiresAt: o.expiresAt === undefined ? now + 280_000 : o.expiresAt,
    payload: { owner: { pid, host: 'a1b2c3d4e5f6', startedAt: o.startedAt === undefined ? 4242 : o.startedAt }, port: 3000, mode: 'foreground', supervisor: null },
  };
}

beforeAll(async () => {
  node24 = await ensureNode24();
  projectDir = freshDir();
  const r = await init(['--yes', '--runtime', 'openclaw', '--dir', projectDir, '--app', 'prep-openclaw'], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY } });
  expect(r.code, r.stderr).toBe(0);
}, 10 * 60_000);

describe('prepare-data.mjs for openclaw', () => {
  it('removes stale locks under <state>/tmp/openclaw-<uid>/ and keeps a live one', async () => {
    const dir = projectDir;

    const volume = mkdtempSync(join(tmpdir(), 'clawdfly-prep-'));
    const otherTmp = mkdtempSync(join(tmpdir(), 'clawdfly-prep-tmp-'));
    const lockDir = join(volume, 'tmp', `openclaw-${process.getuid!()}`);
    mkdirSync(lockDir, { recursive: true });
    const lock = (pid: number) => JSON.stringify({ pid, createdAt: new Date().toISOString(), configPath: join(volume, 'openclaw.json'), stateDir: volume, port: 3000 }, null, 2) + '\n\t \t';
    const dead = deadPid();
    writeFileSync(join(lockDir, 'gateway.0a1b2c3d.lock'), lock(dead));
    writeFileSync(join(lockDir, 'gateway.state.lock'), lock(dead));
    writeFileSync(join(lockDir, 'gateway.0a1b2c3d.lock.sqlite'), '');
    writeFileSync(join(lockDir, 'gateway.9f8e7d6c.lock'), lock(process.pid));

    // TMPDIR elsewhere: the lock dir is found through the state dir, not through TMPDIR.
    const run = spawnSync(node24, [join(dir, 'runtime', 'prepare-data.mjs'), '0'], {
      env: { PATH: process.env['PATH'], OPENCLAW_STATE_DIR: volume, TMPDIR: otherTmp },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(existsSync(join(lockDir, 'gateway.0a1b2c3d.lock'))).toBe(false);
    expect(existsSync(join(lockDir, 'gateway.state.lock'))).toBe(false);
    expect(existsSync(join(lockDir, 'gateway.0a1b2c3d.lock.sqlite'))).toBe(true);
    expect(existsSync(join(lockDir, 'gateway.9f8e7d6c.lock'))).toBe(true);
    expect(run.stdout).toContain(`removed stale gateway lock ${join(lockDir, 'gateway.0a1b2c3d.lock')}: pid ${dead} is not running`);
    expect(run.stdout).toContain(`kept gateway lock ${join(lockDir, 'gateway.9f8e7d6c.lock')}: pid ${process.pid} is alive`);
  });

  it('releases a killed boot\'s gateway owner lease: dead pid, reused pid, or the pid this boot execs into', () => {
    const dead = deadPid();
    const cases: { execPid: number; row: LeaseRow; why: string }[] = [
      { execPid: 0, row: gatewayLease('owner-dead', dead), why: `pid ${dead} is not running` },
      // alive, but since a later start than the one recorded: another process got the pid
      { execPid: 0, row: gatewayLease('owner-reused', process.pid, { startedAt: startTicks(process.pid) + 1 }), why: `pid ${process.pid} was reused by another process` },
      // a container's pid 1 is the gateway again after a restart: the entrypoint is it, so no gateway runs yet
      { execPid: process.pid, row: gatewayLease('owner-self', process.pid, { startedAt: startTicks(process.pid) }), why: `pid ${process.pid} is this boot's own entrypoint, not a gateway` },
    ];
    for (const c of cases) {
      const volume = mkdtempSync(join(tmpdir(), 'clawdfly-prep-'));
      const other: LeaseRow = { ...gatewayLease('maintenance-owner', dead), scope: 'agent-database-maintenance', key: 'main' };
      const db = leaseDb(volume, [c.row, other]);
      const run = prepare(volume, c.execPid);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toBe('');
      const released = run.stdout.split('\n').filter((l) => l.includes('gateway owner lease'));
      expect(released).toHaveLength(1);
      const pid = (c.row.payload as { owner: { pid: number } }).owner.pid;
      expect(released[0]!.startsWith(`[clawdfly] released stale gateway owner lease in ${db} (pid ${pid} on a1b2c3d4e5f6, `), released[0]).toBe(true);
      expect(released[0]).toMatch(/, 2\d\d s left\): /);
      expect(released[0]!.endsWith(`: ${c.why}`), released[0]).toBe(true);
      // only the gateway owner's row goes; the database stays the gateway user's (no new owner)
      expect(leaseOwners(db)).toEqual(['agent-database-maintenance/main=maintenance-owner']);
      for (const f of readdirSync(dirname(db))) expect(statSync(join(dirname(db), f)).uid).toBe(process.getuid!());
    }
  });

  it('keeps a lease whose owner is alive, leaves an expired one to the gateway, and starts on a broken database', () => {
    const live = mkdtempSync(join(tmpdir(), 'clawdfly-prep-'));
    const liveDb = leaseDb(live, [gatewayLease('owner-live', process.pid, { startedAt: startTicks(process.pid), createdAt: Date.now() })]);
    const r1 = prepare(live);
    expect(r1.status, r1.stderr).toBe(0);
    expect(r1.stdout).toMatch(/\[clawdfly\] kept gateway owner lease in .*openclaw\.sqlite \(pid \d+ on a1b2c3d4e5f6, 2\d\d s left\): its owner may be alive/);
    expect(leaseOwners(liveDb)).toEqual([`${LEASE.scope}/${LEASE.key}=owner-live`]);

    const expired = mkdtempSync(join(tmpdir(), 'clawdfly-prep-'));
    const expiredDb = leaseDb(expired, [gatewayLease('owner-expired', deadPid(), { expiresAt: Date.now() - 1000 })]);
    const r2 = prepare(expired);
    expect(r2.status, r2.stderr).toBe(0);
    expect(r2.stdout).not.toContain('owner lease');
    expect(leaseOwners(expiredDb)).toEqual([`${LEASE.scope}/${LEASE.key}=owner-expired`]);

    // not a database: one line says the step was skipped, and the start goes on (exit 0)
    const broken = mkdtempSync(join(tmpdir(), 'clawdfly-prep-'));
    mkdirSync(join(broken, dirname(LEASE.database)), { recursive: true });
    writeFileSync(join(broken, LEASE.database), 'not sqlite at all, but long enough to have a header '.repeat(4));
    const r3 = prepare(broken);
    expect(r3.status, r3.stderr).toBe(0);
    expect(r3.stdout).toMatch(/\[clawdfly\] stale owner lease skipped: /);
    expect(r3.stderr).toBe('');
  });

  it('a credential store the gateway command could not import: one ERROR line, the file left for the next boot, the start goes on', () => {
    // On the host the image's gateway entry (/app/node_modules/openclaw/…) does not exist: the command
    // fails like a broken `doctor --fix` would. (The import itself is proven on the real image, test/image/.)
    expect(existsSync('/app/node_modules/openclaw')).toBe(false);
    const volume = mkdtempSync(join(tmpdir(), 'clawdfly-prep-'));
    const store = join(volume, 'agents', 'main', 'agent', 'auth-profiles.json');
    mkdirSync(dirname(store), { recursive: true });
    writeFileSync(store, '{"version":1,"profiles":{}}\n');
    // a store behind a symlink is not followed (an agent may write the state dir)
    mkdirSync(join(volume, 'elsewhere', 'agent'), { recursive: true });
    writeFileSync(join(volume, 'elsewhere', 'agent', 'auth-profiles.json'), '{}');
    symlinkSync(join(volume, 'elsewhere'), join(volume, 'agents', 'linked'));
    writeFileSync(join(volume, 'openclaw.json'), '{"gateway":{"mode":"local"}}\n');
    const tmp = mkdtempSync(join(tmpdir(), 'clawdfly-prep-tmp-'));
    const run = spawnSync(node24, [join(projectDir, 'runtime', 'prepare-data.mjs'), '0'], {
      env: { PATH: process.env['PATH'], OPENCLAW_STATE_DIR: volume, TMPDIR: tmp },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.split('\n').filter((l) => l.includes('doctor --fix'));
    expect(lines).toEqual([
      `[clawdfly] Clawdbot's credential store (made by \`clawdbot onboard\` / \`models auth\`) found (${store}): running \`openclaw doctor --fix --non-interactive --yes\` once before the gateway starts, on a scratch copy of ${join(volume, 'openclaw.json')} (not changed)`,
      expect.stringMatching(new RegExp(`^\\[clawdfly\\] ERROR \`openclaw doctor --fix --non-interactive --yes\` (?:exited 1|could not run \\(.+\\)) after \\d+ s and left ${store.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the gateway will refuse to start; the next boot runs it again$`)),
    ]);
    expect(existsSync(store)).toBe(true);
    expect(readFileSync(join(volume, 'openclaw.json'), 'utf8')).toBe('{"gateway":{"mode":"local"}}\n');
    // the scratch copy is gone
    expect(readdirSync(tmp)).toEqual([]);
  });
});
