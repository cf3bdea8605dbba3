/**
 * SQLite databases on the volume are copied only through SQLite: found by content, snapshotted
 * with the online backup API (or VACUUM INTO), checked with quick_check.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { headBytes, type Walked } from './files.js';

/** The first 16 bytes of every SQLite database file (https://sqlite.org/fileformat.html §1.3). */
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
/** The first 4 bytes of a WAL file (big-endian 0x377f0682 or 0x377f0683). */
const WAL_MAGICS = [0x377f0682, 0x377f0683];
/** Files that belong to a database and are never copied raw: its snapshot holds what they hold. */
const SQLITE_SIBLING_SUFFIXES = ['-wal', '-shm', '-journal'];
/** Pages per backup step: all of them, so one step is one read transaction (a consistent snapshot that never restarts). */
const SQLITE_ONE_STEP = 2 ** 30;
export const SQLITE_TRIES = 4;
const SQLITE_BUSY_MS = 10_000;

/** The part of node:sqlite the agent uses (typed here: @types/node 20 does not know the module). */
interface Statement {
  all(): Record<string, unknown>[];
}
interface Database {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
}
export interface SqliteApi {
  DatabaseSync: new (path: string, options?: { readOnly?: boolean }) => Database;
  backup?: (db: Database, dest: string, options: { rate: number }) => Promise<number>;
}

/**
 * The SQLite databases among the walked files, found by content, whoever made them: a file that
 * starts with the SQLite magic, or an empty one whose `-wal` holds its pages (a fresh WAL database
 * before its first checkpoint). Returns the databases and, for each, its siblings in the tree.
 */
export function findDatabases(root: string, files: Walked[]): Map<string, string[]> {
  const byPath = new Set(files.map((f) => f.path));
  const databases = new Map<string, string[]>();
  for (const f of files) {
    if (SQLITE_SIBLING_SUFFIXES.some((s) => f.path.endsWith(s))) continue;
    let isDb = false;
    if (f.st.size >= 512) {
      const head = headBytes(`${root}/${f.path}`, SQLITE_MAGIC.length);
      isDb = head !== null && head.equals(SQLITE_MAGIC);
    } else if (f.st.size === 0 && byPath.has(`${f.path}-wal`)) {
      const head = headBytes(`${root}/${f.path}-wal`, 4);
      isDb = head !== null && WAL_MAGICS.includes(head.readUInt32BE(0));
    }
    if (isDb) databases.set(f.path, SQLITE_SIBLING_SUFFIXES.map((s) => f.path + s).filter((p) => byPath.has(p)));
  }
  return databases;
}

let sqliteApi: SqliteApi | null | undefined;
/** node:sqlite, or null on a Node without it (before 22.5, or 22.5–22.12 without --experimental-sqlite). */
export function sqlite(): SqliteApi | null {
  if (sqliteApi === undefined) {
    const warn = process.emitWarning;
    process.emitWarning = () => {}; // "SQLite is an experimental feature" on Node 22 would land in the CLI's stderr
    try {
      // A runtime lookup, never bundled: the module may not exist on the machine's Node.
      sqliteApi = createRequire(`${process.cwd()}/`)('node:sqlite') as SqliteApi;
    } catch {
      sqliteApi = null;
    } finally {
      process.emitWarning = warn;
    }
  }
  return sqliteApi;
}

function openDatabase(api: SqliteApi, abs: string, readOnly: boolean): Database {
  const db = new api.DatabaseSync(abs, readOnly ? { readOnly: true } : {});
  db.exec(`PRAGMA busy_timeout = ${SQLITE_BUSY_MS}`);
  return db;
}

/**
 * A consistent copy of the live database at `abs`, written to `dest` (in our scratch dir) through
 * SQLite: the online backup API in one step (Node >= 22.16 / 24), else `VACUUM INTO`. Both read
 * in one read transaction: the copy is the database as of one commit, whatever writes meanwhile
 * (WAL readers never block the writer). The copy is then checked with `PRAGMA quick_check`.
 */
export async function snapshotDatabase(api: SqliteApi, abs: string, dest: string): Promise<string> {
  let db: Database;
  try {
    db = openDatabase(api, abs, true);
  } catch {
    db = openDatabase(api, abs, false); // a WAL database without its -shm yet
  }
  let method: string;
  try {
    if (typeof api.backup === 'function') {
      await api.backup(db, dest, { rate: SQLITE_ONE_STEP });
      method = 'sqlite-online-backup';
    } else {
      db.exec(`VACUUM INTO '${dest.replace(/'/g, "''")}'`);
      method = 'vacuum-into';
    }
  } finally {
    db.close();
  }
  const copy = new api.DatabaseSync(dest);
  let check: string;
  try {
    // A standalone file: the live database's journal mode stays (the gateway sets its own at open).
    check = copy
      .prepare('PRAGMA quick_check')
      .all()
      .map((row) => String(Object.values(row)[0]))
      .join('; ');
  } finally {
    copy.close();
  }
  if (check !== 'ok') throw new Error(`the copy fails PRAGMA quick_check: ${check.slice(0, 200)}`);
  return method;
}

/** A fresh private scratch dir for snapshots (mkdtemp: 0700, a name nobody can guess), in $TMPDIR, else on the volume. */
export function makeScratch(root: string): string {
  try {
    return fs.mkdtempSync(`${os.tmpdir().replace(/\/+$/, '')}/clawdfly-sqlite-`);
  } catch {
    return fs.mkdtempSync(`${root}/.clawdfly-snapshot-`);
  }
}
