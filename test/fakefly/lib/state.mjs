// State store for fakefly: $FAKEFLY_STATE/state.json guarded by a mkdir lock,
// invocations.jsonl (append-only), machines/<id>/fs (machine roots).
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

export const STATE_VERSION = 1;

export function stateDir(env = process.env) {
  const d = env.FAKEFLY_STATE;
  if (!d) {
    const e = new Error('FAKEFLY_STATE is not set (fakefly needs a state directory)');
    e.fakeflyFatal = true;
    throw e;
  }
  return path.resolve(d);
}

export function sleepSync(ms) {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function defaultState() {
  return {
    version: STATE_VERSION,
    seq: 0,
    auth: 'ok',
    user: { email: 'tester@example.com', name: 'Test User' },
    orgs: [{ id: 'org_personal1', internalNumericId: '100001', slug: 'personal', rawSlug: 'personal', name: 'Test User', type: 'PERSONAL', paidPlan: false }],
    apps: {},
    volumes: {},
    machines: {},
    calls: {},
    restartLog: [],
    ssh: [],
  };
}

const LOCK_STALE_MS = 15000;

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

export function withLock(dir, fn) {
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, '.lock');
  const start = Date.now();
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      try {
        // Break the lock only when its holder is gone (a busy machine can hold it for seconds).
        const st = fs.statSync(lock);
        let holder = 0;
        try { holder = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8')); } catch { /* being created */ }
        const holderDead = holder > 0 && !isAlive(holder);
        if (holderDead || (holder === 0 && Date.now() - st.mtimeMs > LOCK_STALE_MS)) { fs.rmSync(lock, { recursive: true, force: true }); continue; }
      } catch { continue; }
      if (Date.now() - start > 60000) throw new Error(`fakefly: timed out waiting for state lock ${lock}`);
      sleepSync(5 + Math.floor(Math.random() * 10));
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

export function statePath(dir) { return path.join(dir, 'state.json'); }

export function loadStateUnlocked(dir) {
  try {
    const s = JSON.parse(fs.readFileSync(statePath(dir), 'utf8'));
    return { ...defaultState(), ...s };
  } catch (e) {
    if (e.code === 'ENOENT') return defaultState();
    throw e;
  }
}

export function saveStateUnlocked(dir, s) {
  const p = statePath(dir);
  const tmp = `${p}.${crypto.randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n');
  fs.renameSync(tmp, p);
}

/** Read-modify-write under the lock. fn may return a value; state is always saved. */
export function withState(dir, fn) {
  return withLock(dir, () => {
    const s = loadStateUnlocked(dir);
    const r = fn(s);
    saveStateUnlocked(dir, s);
    return r;
  });
}

/** Read-only snapshot (still takes the lock so we never read a half-written file). */
export function readState(dir) {
  return withLock(dir, () => loadStateUnlocked(dir));
}

export function nextSeq(s) { s.seq = (s.seq || 0) + 1; return s.seq; }

function hexFor(s, kind, n) {
  const seq = nextSeq(s);
  return crypto.createHash('sha256').update(`${kind}:${seq}:${s.salt || ''}`).digest('hex').slice(0, n);
}

export function newMachineId(s) { return hexFor(s, 'machine', 14); }
export function newVolumeId(s) {
  const h = hexFor(s, 'volume', 32);
  // vol_ + 16 chars of [a-z0-9]
  return 'vol_' + BigInt('0x' + h).toString(36).padStart(16, '0').slice(0, 16);
}
export function newUlidish(s) {
  const h = hexFor(s, 'ulid', 26);
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let out = '01K';
  for (let i = 0; i < 23; i++) out += alphabet[parseInt(h[i], 16) % 32];
  return out;
}
export function newHex(s, kind, n) { return hexFor(s, kind, n); }

export function machineRoot(dir, id) { return path.join(dir, 'machines', id, 'fs'); }

export function appendJsonl(file, rec) {
  fs.appendFileSync(file, JSON.stringify(rec) + '\n');
}

export function invocationsPath(dir) { return path.join(dir, 'invocations.jsonl'); }
