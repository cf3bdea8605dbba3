// clawdfly: prepares the gateway's state volume before the gateway starts (runs on every boot).
// Generated for clawdbot@2026.1.24-3. Never blocks the start: every problem is logged and skipped.
import { copyFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, cpSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const STATE_DIR = process.env['CLAWDBOT_STATE_DIR'] || '/data';
const CONFIG_FILE = 'clawdbot.json';
const LOCK_DIR_PREFIX = 'clawdbot-';
const RUNTIME_ID = 'clawdbot@2026.1.24-3';
const SEED_CONFIG = '/app/' + CONFIG_FILE;
const PREWARMED_JITI = '/app/.jiti-cache';
const LOCK_RE = /^gateway\.[0-9a-f]{8}\.lock$/;
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

step('transpile cache', () => {
  // The jiti cache is keyed by source path and content: a cache from another runtime is dead weight.
  const tmp = tmpdir();
  const marker = join(tmp, '.clawdfly-runtime');
  const jiti = join(tmp, 'jiti');
  const previous = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : '';
  if (previous && previous !== RUNTIME_ID) {
    rmSync(jiti, { recursive: true, force: true });
    log(`runtime changed (${previous} -> ${RUNTIME_ID}): cleared the transpile cache`);
  }
  if (!existsSync(jiti) && existsSync(PREWARMED_JITI)) {
    cpSync(PREWARMED_JITI, jiti, { recursive: true });
    log('transpile cache seeded from the image');
  }
  if (tmp.startsWith(STATE_DIR + '/') || previous) writeFileSync(marker, RUNTIME_ID + '\n');
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
  for (const base of new Set([tmpdir(), '/tmp'])) {
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
