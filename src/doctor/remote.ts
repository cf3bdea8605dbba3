/**
 * The ONE ssh round trip of doctor: a single `sh -c` script that prints every remote file fact in
 * marked sections — the config file (exists, bytes, mode, text), the state dir, the workspace, and
 * every gateway lock file in the state dir and under the tmp dirs, with whether its owner is alive
 * (`kill -0`, then /proc/<pid>/stat start time against the lock's startTime, the gateway's own rule).
 *
 * Paths travel as positional parameters (`k:/path`), never spliced into the script text. Names
 * (lock file pattern, tmp dir prefix) come from the runtime table.
 */
import { LOCK_FILE_GLOB, type GatewayRuntime } from '../gateway/runtime.js';
import { parseLock, type GatewayLock } from '../gateway/logs.js';
import { shScript } from '../fly/quote.js';

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

export interface RemoteFacts {
  /** $TMPDIR of the ssh session. */
  tmpdir?: string;
  configs: RemoteFile[];
  stateDirs: RemoteDir[];
  workspaces: RemoteDir[];
  locks: RemoteLock[];
  /** The script printed its end marker (output was not cut short). */
  complete: boolean;
}

function script(runtime: GatewayRuntime): string {
  const prefix = runtime.lockTmpDirPrefix.replace(/[^\w.-]/g, '');
  return [
    `M='${MARK}'`,
    `echo "$M tmpdir $TMPDIR"`,
    // one lock file: its JSON, and whether its owner is alive (kill -0, then the /proc start time)
    'lockfact() {',
    '  [ -f "$1" ] || return 0',
    '  echo "$M lock $1"',
    '  echo "json=$(head -c 4096 "$1" | tr -d \'\\n\')"',
    '  pid=$(sed -n \'s/.*"pid"[^0-9]*\\([0-9][0-9]*\\).*/\\1/p\' "$1" | head -n 1)',
    '  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then',
    '    echo "alive=1"',
    '    st=$(sed \'s/^.*) //\' "/proc/$pid/stat" 2>/dev/null | cut -d" " -f20)',
    '    [ -n "$st" ] && echo "procstart=$st"',
    '  else echo "alive=0"; fi',
    '}',
    'dirfact() {',
    '  echo "$M $1 $2"',
    '  if [ -d "$2" ]; then echo "exists=1"; t="$2/.clawdfly-doctor-$$"',
    '    if ( : > "$t" ) 2>/dev/null; then rm -f "$t"; echo "writable=1"; else echo "writable=0"; fi',
    '  else echo "exists=0"; fi',
    '}',
    'for a in "$@"; do',
    '  k="${a%%:*}"; p="${a#*:}"',
    '  case "$k" in',
    '  c) echo "$M config $p"',
    '     if [ -f "$p" ]; then echo "exists=1"; echo "regular=1"; echo "bytes=$(wc -c < "$p" | tr -d " ")"; echo "mode=$(stat -c %a "$p" 2>/dev/null)"',
    `       if [ -r "$p" ]; then echo "readable=1"; echo "$M config-text $p"; head -c ${MAX_CONFIG_BYTES} "$p"; echo; fi`,
    '     elif [ -e "$p" ]; then echo "exists=1"; echo "regular=0"; else echo "exists=0"; fi ;;',
    '  s) dirfact statedir "$p"',
    `     for f in "$p/"${LOCK_FILE_GLOB}; do lockfact "$f"; done ;;`,
    `  t) for d in "$p/${prefix}"*; do [ -d "$d" ] || continue; for f in "$d/"${LOCK_FILE_GLOB}; do lockfact "$f"; done; done ;;`,
    '  w) dirfact workspace "$p" ;;',
    '  esac',
    'done',
    `if [ -n "$TMPDIR" ]; then for d in "$TMPDIR/${prefix}"*; do [ -d "$d" ] || continue; for f in "$d/"${LOCK_FILE_GLOB}; do lockfact "$f"; done; done; fi`,
    'echo "$M end"',
  ].join('\n');
}

/** The argv for `FlyClient.ssh`: `sh -c <script> doctor c:<state dir>/<config file> s:<state dir> t:<state dir>/tmp …`. */
export function remoteFactsArgv(runtime: GatewayRuntime, targets: RemoteTargets): string[] {
  const uniq = (xs: string[]) => [...new Set(xs.filter((x) => x.startsWith('/')))];
  const args = [
    ...uniq(targets.configs).map((p) => `c:${p}`),
    ...uniq(targets.stateDirs).map((p) => `s:${p}`),
    ...uniq(targets.tmpBases).map((p) => `t:${p}`),
    ...uniq(targets.workspaces).map((p) => `w:${p}`),
  ];
  return [...shScript(script(runtime)), 'doctor', ...args];
}

function kv(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

export function parseRemoteFacts(stdout: string): RemoteFacts {
  const facts: RemoteFacts = { configs: [], stateDirs: [], workspaces: [], locks: [], complete: false };
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
  for (const section of sections) {
    const v = kv(section.body);
    switch (section.kind) {
      case 'tmpdir':
        if (section.arg) facts.tmpdir = section.arg;
        break;
      case 'config':
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
        // The script adds one newline after the file's bytes.
        if (file) file.text = section.body.join('\n').replace(/\n$/, '');
        break;
      }
      case 'statedir':
      case 'workspace':
        (section.kind === 'statedir' ? facts.stateDirs : facts.workspaces).push({ path: section.arg, exists: v['exists'] === '1', writable: v['writable'] === '1' });
        break;
      case 'lock': {
        if (seenLocks.has(section.arg)) break;
        seenLocks.add(section.arg);
        const raw = v['json'] ?? '';
        facts.locks.push({
          path: section.arg,
          raw,
          lock: parseLock(raw),
          alive: v['alive'] === '1',
          procStart: v['procstart'] ? Number(v['procstart']) : undefined,
        });
        break;
      }
      case 'end':
        facts.complete = true;
        break;
    }
  }
  return facts;
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
 * Removes the given lock files, re-checking on the machine at delete time that each owner is still
 * dead (a lock whose owner came alive in between is kept). Prints `removed <path>` per file.
 */
export function removeStaleLocksArgv(paths: string[]): string[] {
  const body = [
    'for f in "$@"; do',
    '  [ -f "$f" ] || continue',
    '  pid=$(sed -n \'s/.*"pid"[^0-9]*\\([0-9][0-9]*\\).*/\\1/p\' "$f" | head -n 1)',
    '  want=$(sed -n \'s/.*"startTime"[^0-9]*\\([0-9][0-9]*\\).*/\\1/p\' "$f" | head -n 1)',
    '  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then',
    '    st=$(sed \'s/^.*) //\' "/proc/$pid/stat" 2>/dev/null | cut -d" " -f20)',
    '    if [ -z "$want" ] || [ -z "$st" ] || [ "$st" = "$want" ]; then echo "kept $f"; continue; fi',
    '  fi',
    '  rm -f -- "$f" && echo "removed $f"',
    'done',
  ].join('\n');
  return [...shScript(body), 'doctor', ...paths];
}
