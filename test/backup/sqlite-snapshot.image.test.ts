/**
 * `clawdfly backup` of a live SQLite database on the real OpenClaw image (the flyctl double with
 * FAKEFLY_BACKEND=podman: `ssh console -C` is `podman exec` into the machine's container).
 *
 * A writer (the image's Node, as the gateway user) commits rows into a WAL database on the volume
 * while the backup runs, checkpointing as it goes. The archive's copy must be one consistent
 * state of the database: `PRAGMA integrity_check` ok, every row committed before the backup began,
 * ids contiguous from 1 (a file-by-file copy pairs a database file with a WAL of another moment).
 * The gateway's own state/openclaw.sqlite, live under the running gateway, must check too, and no
 * -wal/-shm travels in the archive.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { CANONICAL_FLAGS, openclawProject, projectSecretValues, type CanonicalProject } from '../image/project.js';
import { ensureNodeBaseImage, ensurePodman, freePort, podman } from '../support/podman.js';
import { createPodmanFly, disposePodmanFly, failedFlyCalls } from '../support/podman-fly.js';
import { sleep } from '../support/util.js';
// @ts-expect-error plain ESM without types
import { podmanContainer } from '../fakefly/lib/backend-podman.mjs';

const MIN = 60_000;
const APP = CANONICAL_FLAGS[CANONICAL_FLAGS.indexOf('--app') + 1]!;
const DB = 'plugin-rows/rows.sqlite';
/** Rows the writer must have committed before the backup starts (1 KB each: several WAL checkpoints' worth). */
const ROWS_BEFORE = 8_000;

interface Fake {
  dir: string;
  env: Record<string, string>;
  machines(app: string): { id: string; state: string }[];
  invocations(): { argv: string[]; exitCode: number | null }[];
  cleanup(): void;
}

let fake: Fake | undefined;
let project: CanonicalProject;
const temps: string[] = [];

async function cli(args: string[], timeoutMs = 5 * MIN): Promise<CliResult> {
  return runCli([...args, '--dir', project.dir], { env: { NO_COLOR: '1', ...fake!.env }, timeoutMs, secrets: Object.values(projectSecretValues(project.dir)) });
}

function container(): string {
  const [m] = fake!.machines(APP);
  return podmanContainer(fake!.dir, m!.id) as string;
}

/** Node on the machine, as the gateway user (uid 1000), like a plugin of the gateway. */
function nodeOnMachine(script: string, detach = false): Promise<{ stdout: string; stderr: string }> {
  return podman(['exec', ...(detach ? ['-d'] : []), '--user', '1000', container(), 'node', '-e', script], { timeoutMs: 2 * MIN });
}

/** Commits rows of 1 KB, ids 1, 2, 3… one per transaction, until /tmp/stop-writer exists. */
const WRITER = `
const { DatabaseSync } = require('node:sqlite');
const fs = require('fs');
fs.mkdirSync('/data/plugin-rows', { recursive: true });
const db = new DatabaseSync('/data/${DB}');
db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 200; PRAGMA busy_timeout = 10000');
db.exec('CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)');
const insert = db.prepare('INSERT INTO rows (id, payload) VALUES (?, ?)');
let id = db.prepare('SELECT coalesce(max(id), 0) AS m FROM rows').get().m;
const tick = () => {
  if (fs.existsSync('/tmp/stop-writer')) { db.close(); return; }
  for (let i = 0; i < 10; i++) { id++; insert.run(id, require('crypto').randomBytes(1024)); }
  setTimeout(tick, 2);
};
tick();
`;

/** max(id) committed so far, read through SQLite on the machine. */
async function committedRows(): Promise<number> {
  const r = await nodeOnMachine(`const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync('/data/${DB}', { readOnly: true }); db.exec('PRAGMA busy_timeout = 10000'); process.stdout.write(String(db.prepare('SELECT coalesce(max(id), 0) AS m FROM rows').get().m));`);
  return Number(r.stdout.trim());
}

interface Inspected {
  integrity: string;
  count?: number;
  min?: number;
  max?: number;
}

/**
 * integrity_check (and, with a table, row count, min and max id) of databases as a restore would
 * put them back (with whatever -wal/-shm the archive holds beside them), checked with the image's
 * Node in one throwaway container.
 */
async function inspectDatabases(dbs: { file: string; table: string | null }[]): Promise<Inspected[]> {
  const input = dbs.map(({ file, table }) => {
    const files: Record<string, string> = {};
    for (const suffix of ['', '-wal', '-shm', '-journal']) if (existsSync(file + suffix)) files[`db.sqlite${suffix}`] = readFileSync(file + suffix).toString('base64');
    return { files, table };
  });
  const script = `
const fs = require('fs'); const os = require('os');
const { DatabaseSync } = require('node:sqlite');
const out = [];
for (const { files, table } of JSON.parse(fs.readFileSync(0, 'utf8'))) {
  const dir = fs.mkdtempSync(os.tmpdir() + '/check-');
  for (const [name, b64] of Object.entries(files)) fs.writeFileSync(dir + '/' + name, Buffer.from(b64, 'base64'));
  try {
    const db = new DatabaseSync(dir + '/db.sqlite');
    const one = { integrity: db.prepare('PRAGMA integrity_check').all().map((r) => Object.values(r)[0]).join('; ').slice(0, 500) };
    if (table) Object.assign(one, db.prepare('SELECT count(*) AS count, min(id) AS min, max(id) AS max FROM ' + table).get());
    out.push(one);
  } catch (e) { out.push({ integrity: 'unreadable: ' + e.message }); }
}
process.stdout.write(JSON.stringify(out));`;
  const r = await podman(['run', '--rm', '-i', '--network', 'none', '--user', '1000', '--entrypoint', 'node', project.image, '-e', script], { input: JSON.stringify(input), timeoutMs: 10 * MIN });
  return JSON.parse(r.stdout) as Inspected[];
}

describe('backup of live SQLite databases on the real OpenClaw image (podman)', () => {
  beforeAll(async () => {
    await ensurePodman();
    await ensureNodeBaseImage(24);
    project = await openclawProject();
    // verification may wait up to 8 min, as in the openclaw journey: on a 2-core CI machine running
    // image builds beside it, openclaw's first boot to /readyz has taken minutes (this test is about the backup)
    fake = createPodmanFly<Fake>(project.dir, await freePort(), 8 * MIN);
  }, 60 * MIN);

  afterAll(async () => {
    await disposePodmanFly(fake, project?.dir ?? '');
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  }, 5 * MIN);

  it('a writer commits rows during the backup: the archived database passes integrity_check and holds every row committed before, ids contiguous', async () => {
    const deploy = await cli(['deploy', '--yes', '--json'], 25 * MIN);
    // --json puts the error on stdout; the double names the flyctl call that failed
    expect(deploy.code, `${deploy.stderr}\n${deploy.stdout}\n${failedFlyCalls(fake!)}`).toBe(0);

    await nodeOnMachine(WRITER, true);
    let before = 0;
    for (let idle = 0; (before = await committedRows().catch(() => before)) < ROWS_BEFORE; ) {
      const seen = before;
      await sleep(500);
      idle = (await committedRows().catch(() => seen)) > seen ? 0 : idle + 1;
      if (idle > 60) throw new Error(`the writer stopped committing (${seen} rows)`);
    }

    const b = await cli(['backup', '--json']);
    const during = await committedRows();
    await nodeOnMachine(`require('fs').writeFileSync('/tmp/stop-writer', '')`);
    expect(b.code, b.stderr).toBe(0);
    // the writer kept committing while the backup ran
    expect(during).toBeGreaterThan(before);

    const backup = JSON.parse(b.stdout) as { file: string; sqlite: { path: string; method: string; siblingsLeftOut: string[] }[] };
    const listed = spawnSync('tar', ['-tzf', backup.file], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    expect(listed).toContain(DB);
    expect(listed).toContain('state/openclaw.sqlite');

    const out = mkdtempSync(join(tmpdir(), 'clawdfly-sqlite-archive-'));
    temps.push(out);
    expect(spawnSync('tar', ['-xzf', backup.file, '-C', out]).status).toBe(0);

    const [rows, gateway] = (await inspectDatabases([
      { file: join(out, DB), table: 'rows' },
      { file: join(out, 'state', 'openclaw.sqlite'), table: null },
    ])) as [Inspected, Inspected];
    console.log(`[sqlite backup] ${before} rows committed before the backup, ${during} when it ended; in the archive: ${JSON.stringify(rows)}; the gateway's database: ${JSON.stringify(gateway)}`);
    expect(gateway.integrity).toBe('ok');
    expect(rows.integrity).toBe('ok');
    expect(rows.min).toBe(1);
    expect(rows.count).toBe(rows.max);
    expect(rows.max!).toBeGreaterThanOrEqual(before);

    // the manifest says how each database was copied; no -wal/-shm travels
    expect(listed.filter((p) => /-(wal|shm|journal)$/.test(p))).toEqual([]);
    const byPath = new Map((backup.sqlite ?? []).map((d) => [d.path, d]));
    expect(byPath.get(DB)?.method).toMatch(/^(sqlite-online-backup|vacuum-into)$/);
    expect(byPath.get(DB)?.siblingsLeftOut).toEqual(expect.arrayContaining([`${DB}-wal`]));
    expect(byPath.get('state/openclaw.sqlite')?.method).toMatch(/^(sqlite-online-backup|vacuum-into)$/);
  }, 40 * MIN);
});
