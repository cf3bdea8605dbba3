/**
 * The ONE ssh round trip of doctor: the remote agent's `doctor-probe` request (src/remote/agent/
 * doctor-probe.ts) — the config file (exists, bytes, mode, text), the state dir, the workspace,
 * clawdfly's leftovers, and every gateway lock file in the state dir and under the tmp dirs, with
 * whether its owner is alive (the process table, then its start time against the lock's
 * startTime, the gateway's own rule). It runs as the state dir's owner and never writes.
 *
 * Paths travel as argv words (`c:/path`), never inside a script. Names (lock file pattern, tmp
 * dir prefix) come from the runtime table. What the agent answers is filtered again here: only
 * what it could have reported for the targets it was given counts.
 */
import { posix } from 'node:path';
import { LOCK_FILE_NAME_RE, STATE_DIR, type GatewayRuntime } from '../gateway/runtime.js';
import { agentCommand, agentInput, agentReply } from '../remote/agent-call.js';
import type { AgentResponses, DoctorProbe, ProbeWord } from '../remote/agent/protocol.js';
import type { FlyClient } from '../fly/client.js';
import { LEFTOVER_NAME_RE } from '../remote/agent/find.js';
import { parseLock, type GatewayLock } from '../gateway/logs.js';

/** Largest config text brought back (the gateway's own files are a few KB). */
const MAX_CONFIG_BYTES = 262_144;

export interface RemoteTargets {
  configs: string[];
  stateDirs: string[];
  /** Bases under which `<lockTmpDirPrefix>*` directories may hold locks (TMPDIR candidates). */
  tmpBases: string[];
  workspaces: string[];
}

export interface RemoteFile {
  path: string;
  exists: boolean;
  regular: boolean;
  readable: boolean;
  bytes?: number;
  mode?: string;
  text?: string;
}

export interface RemoteDir {
  path: string;
  exists: boolean;
  /** As the ssh user (root on Fly); the gateway's own EACCES lines say more. */
  writable: boolean;
}

export interface RemoteLock {
  path: string;
  raw: string;
  lock?: GatewayLock;
  alive: boolean;
  /** Field 22 of /proc/<pid>/stat when the pid is alive and readable. */
  procStart?: number;
}

/** A folder clawdfly made on the state dir and did not remove (an interrupted restore or upgrade). */
export interface RemoteLeftover {
  path: string;
  /** du -sk, as the state dir's owner (what it cannot read is not counted). */
  kb?: number;
  /** Last change, seconds since the epoch. */
  mtime?: number;
}

/**
 * Top-level names clawdfly gives its own work folders on the state dir (restore's aside and stage
 * folders, an upgrade's snapshot and aside folders): mkdtemp/mktemp names, never anything else.
 * The remote agent holds the pattern (it re-checks each name before removing).
 */
export { LEFTOVER_NAME_RE };

export interface RemoteFacts {
  /** clawdfly's own folders left on the state dir (the first state dir's), with their sizes. */
  leftovers: RemoteLeftover[];
  /** A restore staged or applied and never confirmed (`.clawdfly-restore.json` on the first state dir): its state word. */
  restoreMarker?: { path: string; state: string };
  /** $TMPDIR of the ssh session. */
  tmpdir?: string;
  configs: RemoteFile[];
  stateDirs: RemoteDir[];
  workspaces: RemoteDir[];
  locks: RemoteLock[];
  /** The script printed its end marker (output was not cut short). */
  complete: boolean;
  /** Where locks were looked for: the only places `doctor --fix` may remove one from. */
  lockBases: { stateDirs: string[]; tmpBases: string[] };
}

/** The lock dir name under a TMPDIR base, `<prefix><uid>`, as a shell pattern and a RegExp. */
function lockDirPrefix(runtime: GatewayRuntime): string {
  return runtime.lockTmpDirPrefix.replace(/[^\w.-]/g, '');
}

function lockDirRe(runtime: GatewayRuntime): RegExp {
  return new RegExp(`^${lockDirPrefix(runtime).replace(/\./g, '\\.')}[0-9]+$`);
}

function uniqAbsolute(xs: string[]): string[] {
  return [...new Set(xs.filter((x) => x.startsWith('/') && !/[\n\r]/.test(x)))];
}

function probeWords(targets: RemoteTargets): ProbeWord[] {
  const words = (kind: 'c' | 's' | 't' | 'w', paths: string[]) => uniqAbsolute(paths).map((p) => `${kind}:${p}` as ProbeWord);
  return [...words('c', targets.configs), ...words('s', targets.stateDirs), ...words('t', targets.tmpBases), ...words('w', targets.workspaces)];
}

/** Runs the probe (the agent's `doctor-probe`, as the owner of the first state dir) and reads its answer. */
export async function probeRemote(client: FlyClient, runtime: GatewayRuntime, targets: RemoteTargets, opts: { timeoutMs?: number } = {}): Promise<RemoteFacts> {
  const stateDir = uniqAbsolute(targets.stateDirs)[0] ?? STATE_DIR;
  const argv = agentCommand('doctor-probe', stateDir, { lockDirPrefix: lockDirPrefix(runtime), lockName: LOCK_FILE_NAME_RE.source, maxConfigBytes: MAX_CONFIG_BYTES }, probeWords(targets));
  return parseRemoteFacts(await client.ssh(argv, { input: agentInput(), timeoutMs: opts.timeoutMs }), runtime, targets);
}

/**
 * Whether `path` is a gateway lock in a place the gateway puts them: `<stateDir>/gateway.<8hex>.lock`
 * or `<tmp base>/<prefix><uid>/gateway.<8hex>.lock`. Anything else in the probe's output is ignored.
 */
export function isKnownLockPath(runtime: GatewayRuntime, path: string, lockBases: { stateDirs: string[]; tmpBases: string[] }): boolean {
  if (!path.startsWith('/') || path.split('/').some((part) => part === '..' || part === '.')) return false;
  if (!LOCK_FILE_NAME_RE.test(posix.basename(path))) return false;
  const dir = posix.dirname(path);
  if (lockBases.stateDirs.includes(dir)) return true;
  return lockDirRe(runtime).test(posix.basename(dir)) && lockBases.tmpBases.includes(posix.dirname(dir));
}

function decodeBase64(text: string | undefined): string | undefined {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  return Buffer.from(text, 'base64').toString('utf8');
}

/**
 * Reads the probe's answer (the agent's JSON line). Only what the probe could have reported for the
 * targets it was given counts: configs asked about, gateway lock names in the known lock dirs with a
 * numeric pid, leftovers with one of our names straight under a state dir asked about. Anything else
 * (however it got into the answer) is dropped.
 */
export function parseRemoteFacts(stdout: string, runtime: GatewayRuntime, targets: RemoteTargets): RemoteFacts {
  const facts: RemoteFacts = { leftovers: [], configs: [], stateDirs: [], workspaces: [], locks: [], complete: false, lockBases: { stateDirs: uniqAbsolute(targets.stateDirs), tmpBases: uniqAbsolute(targets.tmpBases) } };
  const probe = agentReply<'doctor-probe'>(stdout) as Partial<DoctorProbe> | undefined;
  if (!probe || typeof probe !== 'object') return facts;
  const list = <T>(x: T[] | undefined): T[] => (Array.isArray(x) ? x : []);
  if (typeof probe.tmpdir === 'string' && probe.tmpdir.startsWith('/') && !/[\n\r]/.test(probe.tmpdir)) {
    facts.tmpdir = probe.tmpdir;
    facts.lockBases.tmpBases = uniqAbsolute([...facts.lockBases.tmpBases, probe.tmpdir]);
  }
  const configs = new Set(targets.configs);
  for (const c of list(probe.configs)) {
    if (!c || !configs.has(c.path) || facts.configs.some((f) => f.path === c.path)) continue;
    facts.configs.push({
      path: c.path,
      exists: c.exists === true,
      regular: c.regular === true,
      readable: c.readable === true,
      bytes: typeof c.bytes === 'number' ? c.bytes : undefined,
      mode: typeof c.mode === 'string' && /^[0-7]{1,4}$/.test(c.mode) ? c.mode : undefined,
      ...(c.readable === true && c.text64 !== undefined ? { text: decodeBase64(c.text64) } : {}),
    });
  }
  const dirs = (asked: string[], got: DoctorProbe['stateDirs'] | undefined) =>
    list(got).filter((d) => d && asked.includes(d.path)).map((d) => ({ path: d.path, exists: d.exists === true, writable: d.writable === true }));
  facts.stateDirs = dirs(targets.stateDirs, probe.stateDirs);
  facts.workspaces = dirs(targets.workspaces, probe.workspaces);
  for (const l of list(probe.locks)) {
    if (!l || typeof l.path !== 'string' || facts.locks.some((x) => x.path === l.path) || !isKnownLockPath(runtime, l.path, facts.lockBases)) continue;
    const raw = decodeBase64(l.json64) ?? '';
    const lock = parseLock(raw);
    facts.locks.push({
      path: l.path,
      raw,
      // a lock is only ever judged by a positive integer pid (remove-stale-lock re-checks it)
      lock: lock && Number.isSafeInteger(lock.pid) && lock.pid > 0 ? lock : undefined,
      alive: l.alive === true,
      procStart: typeof l.procStart === 'number' && Number.isSafeInteger(l.procStart) ? l.procStart : undefined,
    });
  }
  const num = (x: unknown) => (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : undefined);
  for (const e of list(probe.leftovers)) {
    // only a name of ours, straight under a state dir asked about, once
    if (!e || typeof e.path !== 'string' || !isLeftoverPath(e.path, facts.lockBases.stateDirs) || facts.leftovers.some((l) => l.path === e.path)) continue;
    facts.leftovers.push({ path: e.path, kb: num(e.kb), mtime: num(e.mtime) });
  }
  const marker = probe.restoreMarker;
  if (marker && typeof marker.path === 'string' && facts.lockBases.stateDirs.includes(posix.dirname(marker.path))) {
    facts.restoreMarker = { path: marker.path, state: /^[a-z]{1,20}$/.test(marker.state ?? '') ? marker.state : 'unreadable' };
  }
  facts.complete = true;
  return facts;
}

export function isLeftoverPath(path: string, stateDirs: string[]): boolean {
  return stateDirs.includes(posix.dirname(path)) && LEFTOVER_NAME_RE.test(posix.basename(path));
}

/**
 * Removes clawdfly's leftover folders: the remote agent's `remove-leftovers` request (as the state
 * dir's owner, each re-checked on the machine to be a real folder, not a link, with one of our names
 * straight under the state dir; a link inside is removed, never followed).
 */
export async function removeLeftovers(client: FlyClient, stateDir: string, paths: string[], machineId: string): Promise<AgentResponses['remove-leftovers'] | undefined> {
  const names = paths.filter((p) => isLeftoverPath(p, [stateDir])).map((p) => posix.basename(p));
  const out = await client.ssh(agentCommand('remove-leftovers', stateDir, { names }), { machineId, input: agentInput() });
  return agentReply<'remove-leftovers'>(out);
}

/** The gateway's own rule (gateway.md §4): why a lock's owner is gone, or undefined when it may be alive. */
export function staleReason(lock: RemoteLock): string | undefined {
  if (!lock.lock) return undefined; // unreadable: the gateway's 30 s age rule decides
  if (!lock.alive) return `pid ${lock.lock.pid} is not running`;
  if (lock.lock.startTime !== undefined && lock.procStart !== undefined && lock.procStart !== lock.lock.startTime) {
    return `pid ${lock.lock.pid} now belongs to another process (start time ${lock.procStart} ≠ ${lock.lock.startTime})`;
  }
  return undefined;
}

/**
 * Removes the given lock files: the agent's `remove-stale-lock` request, which re-checks on the
 * machine at delete time that each is a regular file named like a gateway lock in a known lock dir,
 * that its pid is a number, and that the owner is still gone (a lock whose owner came alive in
 * between is kept). It runs as the state dir's owner, so even a path that slipped through could
 * only lose what the gateway user may delete.
 */
export async function removeStaleLocks(client: FlyClient, runtime: GatewayRuntime, stateDir: string, lockBases: { stateDirs: string[]; tmpBases: string[] }, paths: string[], machineId: string): Promise<AgentResponses['remove-stale-lock'] | undefined> {
  const known = paths.filter((p) => isKnownLockPath(runtime, p, lockBases));
  const words: ProbeWord[] = [
    ...uniqAbsolute(lockBases.stateDirs).map((d) => `s:${d}` as ProbeWord),
    ...uniqAbsolute(lockBases.tmpBases).map((d) => `t:${d}` as ProbeWord),
    ...uniqAbsolute(known).map((f) => `f:${f}` as ProbeWord),
  ];
  const argv = agentCommand('remove-stale-lock', stateDir, { lockDirPrefix: lockDirPrefix(runtime), lockName: LOCK_FILE_NAME_RE.source }, words);
  return agentReply<'remove-stale-lock'>(await client.ssh(argv, { machineId, input: agentInput() }));
}
