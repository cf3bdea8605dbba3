/**
 * The ONE ssh round trip of doctor: a single `sh -c` script that prints every remote file fact in
 * marked sections — the config file (exists, bytes, mode, text), the state dir, the workspace, and
 * every gateway lock file in the state dir and under the tmp dirs, with whether its owner is alive
 * (`kill -0`, then /proc/<pid>/stat start time against the lock's startTime, the gateway's own rule).
 *
 * Paths travel as positional parameters (`k:/path`), never spliced into the script text. Names
 * (lock file pattern, tmp dir prefix) come from the runtime table.
 */
import { posix } from 'node:path';
import { LOCK_FILE_GLOB, LOCK_FILE_NAME_RE, STATE_DIR, type GatewayRuntime } from '../gateway/runtime.js';
import { asDirOwner } from '../remote/as-owner.js';
import { agentCommand, agentInput, agentReply } from '../remote/agent-call.js';
import type { AgentResponses } from '../remote/agent/protocol.js';
import type { FlyClient } from '../fly/client.js';
import { LEFTOVER_NAME_RE } from '../remote/agent/find.js';
import { parseLock, type GatewayLock } from '../gateway/logs.js';

export const MARK = '@@clawdfly-doctor';
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
const LEFTOVER_GLOBS = ['.pre-restore-*', '.failed-restore-*', '.clawdfly-restore-*', '.clawdfly-staged-restore-*', '.clawdfly-pre-upgrade-*', '.clawdfly-post-upgrade-*'];

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

/**
 * Shell lines shared by the probe and the delete script: `lockdirs BASE` lists the `<prefix><uid>`
 * dirs under BASE (real dirs, digits-only uid: no name with a newline or a glob character gets
 * through) and `islock F` says F is a regular file (not a symlink) named like a gateway lock.
 */
function lockShellHelpers(runtime: GatewayRuntime): string[] {
  const prefix = lockDirPrefix(runtime);
  return [
    'lockdirs() {',
    `  for d in "$1/${prefix}"[0-9]*; do`,
    `    case "\${d##*/}" in ${prefix}*[!0-9]*) continue ;; esac`,
    '    [ -d "$d" ] && [ ! -L "$d" ] && printf "%s\\n" "$d"',
    '  done',
    '}',
    'islock() {',
    `  case "\${1##*/}" in ${LOCK_FILE_GLOB}) ;; *) return 1 ;; esac`,
    '  [ -f "$1" ] && [ ! -L "$1" ]',
    '}',
    // the owner's pid: digits only, or nothing
    'lockpid() { sed -n \'s/.*"pid"[^0-9]*\\([0-9][0-9]*\\).*/\\1/p\' "$1" | head -n 1; }',
  ];
}

/**
 * The probe. It runs as the state dir's owner (see remote/as-owner.ts) and never writes: a dir's
 * writability is `test -w`. File contents travel base64-encoded on one line, so nothing inside a
 * file (a JSON5 comment in the config, a crafted lock) can fake a marker line of its own.
 */
function script(runtime: GatewayRuntime): string {
  return [
    `M='${MARK}'`,
    `echo "$M tmpdir $TMPDIR"`,
    ...lockShellHelpers(runtime),
    // one lock file: its JSON, and whether its owner is alive (kill -0, then the /proc start time)
    'lockfact() {',
    '  islock "$1" || return 0',
    '  echo "$M lock $1"',
    '  echo "json64=$(head -c 4096 "$1" | base64 | tr -d \'\\n\')"',
    '  pid=$(lockpid "$1")',
    '  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then',
    '    echo "alive=1"',
    '    st=$(sed \'s/^.*) //\' "/proc/$pid/stat" 2>/dev/null | cut -d" " -f20)',
    '    [ -n "$st" ] && echo "procstart=$st"',
    '  else echo "alive=0"; fi',
    '}',
    'tmplocks() { lockdirs "$1" | while IFS= read -r d; do for f in "$d/"' + LOCK_FILE_GLOB + '; do lockfact "$f"; done; done; }',
    'dirfact() {',
    '  echo "$M $1 $2"',
    '  if [ -d "$2" ]; then echo "exists=1"',
    '    if [ -w "$2" ]; then echo "writable=1"; else echo "writable=0"; fi',
    '  else echo "exists=0"; fi',
    '}',
    'for a in "$@"; do',
    '  k="${a%%:*}"; p="${a#*:}"',
    '  case "$k" in',
    '  c) echo "$M config $p"',
    '     if [ -f "$p" ] && [ ! -L "$p" ]; then echo "exists=1"; echo "regular=1"; echo "bytes=$(wc -c < "$p" | tr -d " ")"; echo "mode=$(stat -c %a -- "$p" 2>/dev/null)"',
    `       if [ -r "$p" ]; then echo "readable=1"; echo "$M config-text $p"; echo "base64=$(head -c ${MAX_CONFIG_BYTES} "$p" | base64 | tr -d '\\n')"; fi`,
    '     elif [ -e "$p" ] || [ -L "$p" ]; then echo "exists=1"; echo "regular=0"; else echo "exists=0"; fi ;;',
    '  s) dirfact statedir "$p"',
    '     for f in "$p/"' + LOCK_FILE_GLOB + '; do lockfact "$f"; done',
    // clawdfly's own work folders left here (real folders only; du as the owner, never following a link)
    '     for e in ' + LEFTOVER_GLOBS.map((g) => `"$p/"${g}`).join(' ') + '; do',
    '       if [ -d "$e" ] && [ ! -L "$e" ]; then echo "$M leftover $e"; echo "kb=$(du -sk -- "$e" 2>/dev/null | cut -f1)"; echo "mtime=$(stat -c %Y -- "$e" 2>/dev/null)"; fi',
    '     done',
    // a restore that never finished (clawdfly restore was stopped): the marker's state word only
    '     r="$p/.clawdfly-restore.json"; if [ -f "$r" ] && [ ! -L "$r" ]; then echo "$M restore-marker $r"; echo "state=$(sed -n \'s/^ *"state": *"\\([a-z]*\\)".*/\\1/p\' "$r" | head -n 1)"; fi ;;',
    '  t) tmplocks "$p" ;;',
    '  w) dirfact workspace "$p" ;;',
    '  esac',
    'done',
    'if [ -n "$TMPDIR" ]; then tmplocks "$TMPDIR"; fi',
    'echo "$M end"',
  ].join('\n');
}

function uniqAbsolute(xs: string[]): string[] {
  return [...new Set(xs.filter((x) => x.startsWith('/') && !/[\n\r]/.test(x)))];
}

/** The argv for `FlyClient.ssh`: the probe, run as the state dir's owner, with `c:<state dir>/<config file> s:<state dir> t:<state dir>/tmp …`. */
export function remoteFactsArgv(runtime: GatewayRuntime, targets: RemoteTargets): string[] {
  const args = [
    ...uniqAbsolute(targets.configs).map((p) => `c:${p}`),
    ...uniqAbsolute(targets.stateDirs).map((p) => `s:${p}`),
    ...uniqAbsolute(targets.tmpBases).map((p) => `t:${p}`),
    ...uniqAbsolute(targets.workspaces).map((p) => `w:${p}`),
  ];
  const ownerDir = uniqAbsolute(targets.stateDirs)[0] ?? STATE_DIR;
  return asDirOwner(ownerDir, script(runtime), 'doctor', args);
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

function kv(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

function decodeBase64(text: string | undefined): string | undefined {
  if (text === undefined || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  return Buffer.from(text, 'base64').toString('utf8');
}

/**
 * Reads the probe's output. Only what the probe could have printed for the targets it was given
 * counts: config sections for the configs asked about, lock sections for gateway lock names in the
 * known lock dirs with a numeric pid. Anything else (however it got into the output) is dropped.
 */
export function parseRemoteFacts(stdout: string, runtime: GatewayRuntime, targets: RemoteTargets): RemoteFacts {
  const facts: RemoteFacts = { leftovers: [], configs: [], stateDirs: [], workspaces: [], locks: [], complete: false, lockBases: { stateDirs: uniqAbsolute(targets.stateDirs), tmpBases: uniqAbsolute(targets.tmpBases) } };
  const sections: { kind: string; arg: string; body: string[] }[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith(`${MARK} `)) {
      const rest = line.slice(MARK.length + 1);
      const sp = rest.indexOf(' ');
      sections.push({ kind: sp < 0 ? rest : rest.slice(0, sp), arg: sp < 0 ? '' : rest.slice(sp + 1), body: [] });
    } else if (sections.length > 0) {
      sections[sections.length - 1]!.body.push(line);
    }
  }
  const seenLocks = new Set<string>();
  const configs = new Set(targets.configs);
  const seenConfigs = new Set<string>();
  const seenText = new Set<string>();
  let tmpdir: string | undefined;
  const lockBases = () => facts.lockBases;
  for (const section of sections) {
    const v = kv(section.body);
    switch (section.kind) {
      case 'tmpdir':
        // the probe's first line; a later "tmpdir" section can only be forged
        if (section.arg && tmpdir === undefined && facts.configs.length === 0 && section.arg.startsWith('/')) {
          tmpdir = facts.tmpdir = section.arg;
          facts.lockBases.tmpBases = uniqAbsolute([...facts.lockBases.tmpBases, tmpdir]);
        }
        break;
      case 'config':
        if (!configs.has(section.arg) || seenConfigs.has(section.arg)) break;
        seenConfigs.add(section.arg);
        facts.configs.push({
          path: section.arg,
          exists: v['exists'] === '1',
          regular: v['regular'] === '1',
          readable: v['readable'] === '1',
          bytes: v['bytes'] !== undefined && v['bytes'] !== '' ? Number(v['bytes']) : undefined,
          mode: v['mode'] || undefined,
        });
        break;
      case 'config-text': {
        const file = facts.configs.find((c) => c.path === section.arg);
        if (!file || seenText.has(section.arg)) break;
        seenText.add(section.arg);
        file.text = decodeBase64(v['base64']);
        break;
      }
      case 'statedir':
      case 'workspace':
        (section.kind === 'statedir' ? facts.stateDirs : facts.workspaces).push({ path: section.arg, exists: v['exists'] === '1', writable: v['writable'] === '1' });
        break;
      case 'lock': {
        if (seenLocks.has(section.arg) || !isKnownLockPath(runtime, section.arg, lockBases())) break;
        seenLocks.add(section.arg);
        const raw = decodeBase64(v['json64']) ?? '';
        const lock = parseLock(raw);
        facts.locks.push({
          path: section.arg,
          raw,
          // a lock is only ever judged by a positive integer pid (the delete script re-checks it)
          lock: lock && Number.isSafeInteger(lock.pid) && lock.pid > 0 ? lock : undefined,
          alive: v['alive'] === '1',
          procStart: v['procstart'] ? Number(v['procstart']) : undefined,
        });
        break;
      }
      case 'leftover': {
        // only a name of ours, straight under a state dir asked about, once
        if (!isLeftoverPath(section.arg, facts.lockBases.stateDirs) || facts.leftovers.some((l) => l.path === section.arg)) break;
        const num = (x: string | undefined) => (x && /^\d+$/.test(x) ? Number(x) : undefined);
        facts.leftovers.push({ path: section.arg, kb: num(v['kb']), mtime: num(v['mtime']) });
        break;
      }
      case 'restore-marker': {
        if (facts.restoreMarker || !facts.lockBases.stateDirs.includes(posix.dirname(section.arg))) break;
        const state = /^[a-z]{1,20}$/.test(v['state'] ?? '') ? v['state']! : 'unreadable';
        facts.restoreMarker = { path: section.arg, state };
        break;
      }
      case 'end':
        facts.complete = true;
        break;
    }
  }
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
 * Removes the given lock files, re-checking on the machine at delete time that each is a regular
 * file named like a gateway lock in a known lock dir, that its pid is a number, and that the owner
 * is still dead (a lock whose owner came alive in between is kept). It runs as the state dir's
 * owner, so even a path that slipped through could only lose what the gateway user may delete.
 * Prints `removed <path>` / `kept <path>` / `skipped <path>` per file.
 */
export function removeStaleLocksArgv(runtime: GatewayRuntime, stateDir: string, lockBases: { stateDirs: string[]; tmpBases: string[] }, paths: string[]): string[] {
  const known = paths.filter((p) => isKnownLockPath(runtime, p, lockBases));
  const body = [
    ...lockShellHelpers(runtime),
    // args: `s:<state dir>`, `t:<tmp base>`, `f:<lock file>` (paths never hold a newline: checked before)
    "nl='\n'; S=\"$nl\"; T=\"$nl\"",
    '[ -n "$TMPDIR" ] && T="$T$TMPDIR$nl"',
    'for a in "$@"; do p="${a#*:}"; case "$a" in s:*) S="$S$p$nl" ;; t:*) T="$T$p$nl" ;; esac; done',
    'for a in "$@"; do',
    '  case "$a" in f:*) f="${a#f:}" ;; *) continue ;; esac',
    '  dir="${f%/*}"; up="${dir%/*}"; ok=0',
    '  case "$S" in *"$nl$dir$nl"*) ok=1 ;; esac',
    '  if [ "$ok" = 0 ]; then case "$T" in *"$nl$up$nl"*) lockdirs "$up" | grep -qxF -- "$dir" && ok=1 ;; esac; fi',
    '  if [ "$ok" != 1 ] || ! islock "$f"; then echo "skipped $f"; continue; fi',
    '  pid=$(lockpid "$f")',
    '  if [ -z "$pid" ]; then echo "skipped $f"; continue; fi',
    '  want=$(sed -n \'s/.*"startTime"[^0-9]*\\([0-9][0-9]*\\).*/\\1/p\' "$f" | head -n 1)',
    '  if kill -0 "$pid" 2>/dev/null; then',
    '    st=$(sed \'s/^.*) //\' "/proc/$pid/stat" 2>/dev/null | cut -d" " -f20)',
    '    if [ -z "$want" ] || [ -z "$st" ] || [ "$st" = "$want" ]; then echo "kept $f"; continue; fi',
    '  fi',
    '  rm -f -- "$f" && echo "removed $f"',
    'done',
  ].join('\n');
  const args = [...uniqAbsolute(lockBases.stateDirs).map((d) => `s:${d}`), ...uniqAbsolute(lockBases.tmpBases).map((d) => `t:${d}`), ...known.map((f) => `f:${f}`)];
  return asDirOwner(stateDir, body, 'doctor', args);
}
