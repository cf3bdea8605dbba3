// clawdfly: prepares the gateway's state volume before the gateway starts (runs on every boot).
// Generated for openclaw@2026.9.6. Never blocks the start: every problem is logged and skipped.
import { copyFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, cpSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const STATE_DIR = process.env['OPENCLAW_STATE_DIR'] || '/data';
const CONFIG_FILE = 'openclaw.json';
const LOCK_DIR_PREFIX = 'openclaw-';
// OpenClaw keeps its lock dirs under the state dir, whatever TMPDIR says.
const LOCK_STATE_DIR = join(STATE_DIR, 'tmp');
const RUNTIME_ID = 'openclaw@2026.9.6';
const SEED_CONFIG = '/app/' + CONFIG_FILE;
const PREWARMED_JITI = '/app/.jiti-cache';
const LOCK_RE = /^gateway\.(?:[0-9a-f]{8}|state)\.lock$/;
/** The PID the gateway will have: this script's parent shell execs into it. */
const execPid = Number(process.argv[2] || 0);

const log = (message) => console.log(`[clawdfly] ${message}`);

function step(name, fn) {
  try {
    fn();
  } catch (error) {
    log(`${name} skipped: ${error && error.message ? error.message : error}`);
  }
}

step('state dir check', () => {
  mkdirSync(STATE_DIR, { recursive: true });
  try {
    accessSync(STATE_DIR, constants.W_OK);
  } catch {
    const uid = process.getuid ? process.getuid() : '?';
    log(`ERROR ${STATE_DIR} is not writable by uid ${uid}: state will not be saved. Fix: clawdfly doctor --fix (or: fly ssh console -C "chown -R ${uid}:${uid} ${STATE_DIR}")`);
  }
});

// ---------------------------------------------------------------- staged restore (clawdfly restore)
// `clawdfly restore` leaves a verified tree in STATE_DIR/.clawdfly-staged-restore-* and names it in
// STATE_DIR/.clawdfly-restore.json, then restarts the machine. Here, before the gateway starts (so
// nothing the old gateway writes can land in it), the current state moves aside into
// .pre-restore-<stamp>-* and the staged tree in; the marker says `applied`. Once the gateway listens,
// clawdfly confirms (marker and old state removed). A boot that finds a restore still `applied`
// means the gateway never got that far: the restored tree goes to .failed-restore-<stamp>-* and the
// old state comes back, by itself. Names in the marker are checked, links never followed.
import { lstatSync as lstatRestore, mkdtempSync as mkdtempRestore, renameSync as renameRestore } from 'node:fs';
import { randomBytes as randomRestore } from 'node:crypto';

const PENDING_RESTORE = '.clawdfly-restore.json';
const STAGED_RE = /^\.clawdfly-staged-restore-[A-Za-z0-9]+$/;
const PREVIOUS_RE = /^\.(?:pre|failed)-restore-[0-9TZ]+-[A-Za-z0-9]+$/;
/** Top-level names a restore never moves: clawdfly's own, the filesystem's, and the marker's (tmp/, lock files). */
const NEVER_MOVED = [/^\.pre-restore-/, /^\.failed-restore-/, /^\.clawdfly-(?:restore|staged-restore|snapshot)-/, /^lost\+found$/, /^\.clawdfly-restore\.json/];

function restoreStamp() {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function writeRestoreMarker(marker) {
  const tmp = join(STATE_DIR, `${PENDING_RESTORE}.${randomRestore(6).toString('hex')}`);
  writeFileSync(tmp, JSON.stringify(marker, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  renameRestore(tmp, join(STATE_DIR, PENDING_RESTORE));
}

/** Moves every top-level entry of `from` (but the never-moved ones) into `to`; returns what moved, to move it back. */
function moveEntries(from, to, keep) {
  const moved = [];
  for (const name of readdirSync(from).sort()) {
    if (keep(name)) continue;
    renameRestore(join(from, name), join(to, name));
    moved.push(name);
  }
  return moved;
}

function isPlainDir(path) {
  try {
    return lstatRestore(path).isDirectory();
  } catch {
    return false;
  }
}

function applyStagedRestore() {
  const markerPath = join(STATE_DIR, PENDING_RESTORE);
  let st;
  try {
    st = lstatRestore(markerPath);
  } catch {
    return; // nothing staged: the common boot
  }
  if (!st.isFile()) throw new Error(`${markerPath} is not a regular file`);
  const marker = JSON.parse(readFileSync(markerPath, 'utf8'));
  const excludes = (Array.isArray(marker.excludes) ? marker.excludes : []).filter((e) => typeof e === 'string');
  const excluded = excludes.map((e) => (e.startsWith('re:') ? new RegExp(e.slice(3)) : e));
  const keep = (name) => NEVER_MOVED.some((re) => re.test(name)) || excluded.some((e) => (typeof e === 'string' ? e === name : e.test(name)));

  // Both steps act only on the boot that follows (the restart clawdfly makes next, or Fly's restart
  // of a gateway that crashed on the restored state): never at some later, unrelated boot.
  const within = (at) => {
    const age = Date.now() - Date.parse(at);
    return age >= 0 && age <= Number(marker.applyWithinMs);
  };
  if (marker.state === 'staged') {
    if (typeof marker.stage !== 'string' || !STAGED_RE.test(marker.stage) || !isPlainDir(join(STATE_DIR, marker.stage))) {
      rmSync(markerPath, { force: true });
      log(`discarded ${markerPath}: it names no staged tree; the state is unchanged`);
      return;
    }
    const staged = join(STATE_DIR, marker.stage);
    if (!within(marker.stagedAt)) {
      // clawdfly restarts the machine right after staging: this boot is not that restart.
      rmSync(staged, { recursive: true, force: true });
      rmSync(markerPath, { force: true });
      log(`discarded a restore staged at ${marker.stagedAt}: this boot is not the restart it was staged for (clawdfly restore was interrupted); the state is unchanged`);
      return;
    }
    const previous = mkdtempRestore(join(STATE_DIR, `.pre-restore-${restoreStamp()}-`));
    const out = [];
    const inn = [];
    try {
      out.push(...moveEntries(STATE_DIR, previous, keep));
      inn.push(...moveEntries(staged, STATE_DIR, () => false));
      rmSync(staged, { recursive: true, force: true });
    } catch (error) {
      for (const name of inn.reverse()) renameRestore(join(STATE_DIR, name), join(staged, name));
      for (const name of out.reverse()) renameRestore(join(previous, name), join(STATE_DIR, name));
      rmSync(previous, { recursive: true, force: true });
      writeRestoreMarker({ ...marker, state: 'failed', error: error && error.message ? error.message : String(error) });
      throw error;
    }
    const preRestore = previous.slice(previous.lastIndexOf('/') + 1);
    writeRestoreMarker({ ...marker, state: 'applied', stage: undefined, preRestore, appliedAt: new Date().toISOString() });
    log(`restore applied before the gateway starts: ${inn.length} entries in ${STATE_DIR}, the previous state kept in ${STATE_DIR}/${preRestore} until the gateway listens`);
    return;
  }

  if (marker.state === 'applied') {
    if (!within(marker.appliedAt)) {
      // Long after the restore: the gateway ran on it (clawdfly was stopped before it confirmed).
      // The restored state stays; the replaced one stays aside for `clawdfly doctor --fix`.
      rmSync(markerPath, { force: true });
      log(`kept the restore applied at ${marker.appliedAt} (never confirmed by clawdfly; the replaced state stays in ${STATE_DIR}/${marker.preRestore} until clawdfly doctor --fix removes it)`);
      return;
    }
    // Booting again soon, before clawdfly confirmed: the gateway did not come up on the restored state.
    if (typeof marker.preRestore !== 'string' || !PREVIOUS_RE.test(marker.preRestore) || !isPlainDir(join(STATE_DIR, marker.preRestore))) throw new Error(`${markerPath} names no previous state to put back`);
    const previous = join(STATE_DIR, marker.preRestore);
    const failed = mkdtempRestore(join(STATE_DIR, `.failed-restore-${restoreStamp()}-`));
    moveEntries(STATE_DIR, failed, keep);
    moveEntries(previous, STATE_DIR, () => false);
    rmSync(previous, { recursive: true, force: true });
    const failedRestore = failed.slice(failed.lastIndexOf('/') + 1);
    writeRestoreMarker({ ...marker, state: 'reverted', preRestore: undefined, failedRestore, revertedAt: new Date().toISOString() });
    log(`restore reverted: the machine booted again before the gateway was confirmed on the restored state; the previous state is back, the restored one kept in ${STATE_DIR}/${failedRestore}`);
  }
}

step('staged restore', applyStagedRestore);
// ---------------------------------------------------------------- end of staged restore

step('directories', () => {
  const tmp = tmpdir();
  if (tmp.startsWith(STATE_DIR + '/')) mkdirSync(tmp, { recursive: true, mode: 0o700 });
  mkdirSync(join(STATE_DIR, 'workspace'), { recursive: true });
});

step('first-boot config', () => {
  const target = join(STATE_DIR, CONFIG_FILE);
  if (!existsSync(target) && existsSync(SEED_CONFIG)) {
    copyFileSync(SEED_CONFIG, target);
    chmodSync(target, 0o600);
    log(`seeded ${target} from the image (first boot)`);
  }
});

step('compile cache', () => {
  // The Node compile cache is read from the image (/app/.jiti-cache, entrypoint.sh). The copy
  // earlier clawdfly versions kept on the volume is never read again: drop it, once.
  const stale = join(tmpdir(), 'node-compile-cache');
  if (!stale.startsWith(STATE_DIR + '/') || !existsSync(stale)) return;
  rmSync(stale, { recursive: true, force: true });
  rmSync(join(tmpdir(), '.clawdfly-runtime'), { force: true });
  log(`removed ${stale}: the Node compile cache now comes from the image`);
});

/** Boot time in ms since the epoch: a lock created before it was left by an earlier boot. */
function bootTimeMs() {
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Date.now() - uptime * 1000;
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name). */
function procStartTime(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

/** Why the lock's owner is provably gone, or null when it may be alive. */
function staleReason(lock) {
  if (!lock || typeof lock.pid !== 'number') return null; // unreadable: the gateway's own 30 s rule decides
  if (lock.pid === execPid) return `pid ${lock.pid} is this boot's own entrypoint, not a gateway`;
  if (!existsSync(`/proc/${lock.pid}`)) return `pid ${lock.pid} is not running`;
  if (typeof lock.startTime === 'number') {
    try {
      if (procStartTime(lock.pid) !== lock.startTime) return `pid ${lock.pid} was reused by another process`;
    } catch {
      return `pid ${lock.pid} is not running`;
    }
  }
  if (lock.createdAt && Date.parse(lock.createdAt) < bootTimeMs() - 1000) return 'it was written before this machine booted';
  return null;
}

step('stale locks', () => {
  const dirs = [STATE_DIR];
  for (const base of new Set([tmpdir(), '/tmp', LOCK_STATE_DIR])) {
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base)) if (entry.startsWith(LOCK_DIR_PREFIX)) dirs.push(join(base, entry));
  }
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (!LOCK_RE.test(name)) continue;
      const path = join(dir, name);
      let lock = null;
      try {
        lock = JSON.parse(readFileSync(path, 'utf8'));
      } catch {
        lock = null;
      }
      const reason = staleReason(lock);
      if (reason) {
        rmSync(path, { force: true });
        log(`removed stale gateway lock ${path}: ${reason}`);
      } else if (lock) {
        log(`kept gateway lock ${path}: pid ${lock.pid} is alive`);
      }
    }
  }
});

step('stale owner lease', () => {
  // OpenClaw also records the gateway that owns this state dir as a row of its SQLite state
  // (state_leases, renewed every 30 s, 300 s TTL), with the owner's pid, hostname and start time.
  // It reclaims that row only from an owner on the same hostname whose pid is dead: a killed boot's
  // row, seen from a new container (new hostname) or a new VM (pid alive again), blocks every start
  // ("Another Gateway owner lease is still active") until it runs out. Same rules as the lock files.
  const path = join(STATE_DIR, 'state/openclaw.sqlite');
  if (!existsSync(path)) return;
  // Loaded only here: the built-in exists from Node 22.13 on, and only rows with a lease render this.
  const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
  const db = new DatabaseSync(path, { timeout: 5000 });
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get('state_leases');
    if (!table) return;
    const row = db
      .prepare('SELECT owner, created_at, expires_at, payload_json FROM state_leases WHERE scope = ? AND lease_key = ?')
      .get('gateway-owner', 'global');
    if (!row || row.expires_at === null || Number(row.expires_at) <= Date.now()) return; // none, or the gateway drops it itself
    let owner = null;
    try {
      owner = JSON.parse(row.payload_json).owner;
    } catch {
      owner = null;
    }
    const pid = owner && typeof owner.pid === 'number' ? owner.pid : undefined;
    const reason = staleReason({
      pid,
      startTime: owner && typeof owner.startedAt === 'number' ? owner.startedAt : undefined,
      createdAt: new Date(Number(row.created_at)).toISOString(),
    });
    const who = `pid ${pid ?? '?'} on ${owner && owner.host ? owner.host : '?'}, ${Math.round((Number(row.expires_at) - Date.now()) / 1000)} s left`;
    if (!reason) {
      log(`kept gateway owner lease in ${path} (${who}): its owner may be alive`);
      return;
    }
    // Only that owner's row: a gateway that took the lease meanwhile keeps its own.
    db.exec('BEGIN IMMEDIATE');
    try {
      db.prepare('DELETE FROM state_leases WHERE scope = ? AND lease_key = ? AND owner = ?').run('gateway-owner', 'global', row.owner);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
    log(`released stale gateway owner lease in ${path} (${who}): ${reason}`);
  } finally {
    db.close();
  }
});

// Files of an older gateway's state dir this one refuses to start with until its own command has
// imported them (the runtime row's firstStartMigrations). That command renames what it imported,
// so it runs once: on the first boot after `clawdfly upgrade`.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync } from 'node:fs';

const FIRST_START_MIGRATIONS = [
  {
    "glob": "agents/*/agent/auth-profiles.json",
    "what": "Clawdbot's credential store (made by `clawdbot onboard` / `models auth`)",
    "argv": [
      "doctor",
      "--fix",
      "--non-interactive",
      "--yes"
    ],
    "why": "OpenClaw 2026.9.6 refuses to start until `openclaw doctor --fix` has imported it into SQLite",
    "timeoutSeconds": 600,
    "measuredSeconds": 120
  }
];
const GATEWAY_PACKAGE_DIR = '/app/node_modules/openclaw';
const GATEWAY_ENTRY = join(GATEWAY_PACKAGE_DIR, 'dist/index.js');

function isDirectory(path) {
  try {
    return lstatSync(path).isDirectory(); // a symlink is not followed
  } catch {
    return false;
  }
}

/** Regular files under `base` matching `glob` (`*` matches within one path segment); symlinks are not followed. */
function matchGlob(base, glob) {
  let paths = [base];
  for (const segment of glob.split('/')) {
    const re = new RegExp('^' + segment.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');
    paths = paths.filter(isDirectory).flatMap((dir) => readdirSync(dir).filter((name) => re.test(name)).map((name) => join(dir, name)));
  }
  return paths.filter((path) => {
    try {
      return lstatSync(path).isFile();
    } catch {
      return false;
    }
  });
}

function runMigration(migration, found) {
  const command = `openclaw ${migration.argv.join(' ')}`;
  const live = join(STATE_DIR, CONFIG_FILE);
  // The command rewrites the config it resolves (model refs, origins, skills): it gets a scratch copy
  // through OPENCLAW_CONFIG_PATH, so the live config stays the one clawdfly wrote.
  const scratch = mkdtempSync(join(tmpdir(), 'clawdfly-migrate-'));
  try {
    const config = join(scratch, CONFIG_FILE);
    if (existsSync(live)) copyFileSync(live, config);
    log(`${migration.what} found (${found.join(', ')}): running \`${command}\` once before the gateway starts, on a scratch copy of ${live} (not changed)`);
    const started = Date.now();
    const result = spawnSync(process.execPath, [GATEWAY_ENTRY, ...migration.argv], {
      cwd: GATEWAY_PACKAGE_DIR,
      env: { ...process.env, 'OPENCLAW_CONFIG_PATH': config },
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: migration.timeoutSeconds * 1000,
      killSignal: 'SIGKILL',
    });
    const seconds = Math.round((Date.now() - started) / 1000);
    const outcome = result.error
      ? result.error.code === 'ETIMEDOUT' ? `was stopped after ${migration.timeoutSeconds} s` : `could not run (${result.error.message})`
      : result.signal ? `was killed by ${result.signal}` : `exited ${result.status}`;
    const left = found.filter((path) => existsSync(path));
    if (!left.length) log(`\`${command}\` ${outcome} after ${seconds} s: imported ${found.join(', ')} (renamed *.migrated-*)`);
    else log(`ERROR \`${command}\` ${outcome} after ${seconds} s and left ${left.join(', ')}: the gateway will refuse to start; the next boot runs it again`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

step('first-start migrations', () => {
  for (const migration of FIRST_START_MIGRATIONS) {
    const found = matchGlob(STATE_DIR, migration.glob);
    if (found.length) runMigration(migration, found);
  }
});
