/**
 * The old gateway's files on the state dir, kept for the way back. Before the new gateway first starts on
 * the volume, every top-level entry of the state dir (but tmp/, the workspace and clawdfly's own
 * folders) is copied into `<state dir>/.clawdfly-pre-upgrade-<random>/`, so a file the new gateway
 * later replaces, archives or deletes (OpenClaw moves legacy session stores into SQLite) stays there
 * as it was. Rolling back to the old runtime sets the new gateway's entries (the same names, and the
 * ones it created) aside in `<state dir>/.clawdfly-post-upgrade-<random>/` and moves the snapshot's
 * back; the aside folder is removed once the old gateway is verified (the rollback's backup, taken
 * before, holds it).
 *
 * Copies, not hard links: OpenClaw 2026.9.6 refuses to read a file with a second link (its safe-fs
 * guard against planted links) and its first start then fails at the device-auth migration
 * ("FsSafeError: hardlinked path not allowed", seen in test/e2e/upgrade-journey.test.ts). The copy
 * costs the space of those files: the script measures first and changes nothing when the volume
 * has not that much free.
 *
 * Both scripts run as the owner of the state dir (remote/as-owner.ts), use mktemp names, and never
 * follow a link: `cp -a` copies a symlink as a symlink, `du` does not follow it, `mv` moves the link
 * itself.
 */
import { posix } from 'node:path';
import { ClawdflyError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import { FlyRemoteExitError } from '../fly/errors.js';
import { TMP_SUBDIR, WORKSPACE_SUBDIR } from '../gateway/runtime.js';
import { asDirOwner } from '../remote/as-owner.js';

export const SNAPSHOT_PREFIX = '.clawdfly-pre-upgrade-';
const ASIDE_PREFIX = '.clawdfly-post-upgrade-';
/** Left where they are: rebuilt on boot (tmp), shared by both gateways as plain files (workspace). */
const NOT_SNAPSHOTTED = [TMP_SUBDIR, WORKSPACE_SUBDIR, 'lost+found'];

// Paths are written "$d/"* (the slash inside the quotes), never "$d"/*: one spelling everywhere.
const EACH_ENTRY = (dir: string) => `for p in "${dir}/"* "${dir}/".[!.]* "${dir}/"..?*; do [ -e "$p" ] || [ -L "$p" ] || continue; n="\${p##*/}"`;

const NOT_A_SNAPSHOT = 3;
const MISSING = 44;
const NO_SPACE = 45;

// `kept "$@"`: 0 when entry "$n" is a gateway's (not one of the names in "$@" — tmp/, the workspace —
// nor clawdfly's own folders). The snapshot copies those entries; the restore sets them aside.
const KEPT_FN = 'kept() { for x in "$@"; do [ "$n" = "$x" ] && return 1; done; case "$n" in .clawdfly-*|.pre-restore-*) return 1 ;; esac; return 0; }';

/** Exits with NOT_A_SNAPSHOT unless "$<variable>" is a folder name mktemp made under "$d" with this prefix (its names hold no ".."). */
const MADE_BY_US = (variable: string, prefix: string) => `case "$${variable}" in *..*) exit ${NOT_A_SNAPSHOT} ;; "$d/${prefix}"*) ;; *) exit ${NOT_A_SNAPSHOT} ;; esac`;

const SNAPSHOT_SCRIPT = [
  'set -e',
  'd="$1"; shift',
  KEPT_FN,
  // 1. room for the copy (kB), or nothing is made
  'need=0',
  `${EACH_ENTRY('$d')}`,
  '  kept "$@" || continue',
  '  k=$(du -sk -- "$p" 2>/dev/null | cut -f1) || k=0',
  '  need=$((need + ${k:-0}))',
  'done',
  'free=$(df -Pk -- "$d" | { read -r _; read -r _ _ _ a _; echo "$a"; })',
  // a margin of 1/8 + 1 MB: the new gateway writes its own store on the same volume
  `[ "$((need + (need >> 3) + 1024))" -le "\${free:-0}" ] || { echo "__NOSPACE=$need $free" >&2; exit ${NO_SPACE}; }`,
  // 2. the copy
  `s=$(mktemp -d "$d/${SNAPSHOT_PREFIX}XXXXXXXX")`,
  `${EACH_ENTRY('$d')}`,
  '  kept "$@" || continue',
  // a file the owner may not read (root made it 0600) is named and skipped: the backup has it
  '  cp -a -- "$p" "$s/$n" 2>/dev/null || { rm -rf -- "$s/$n"; echo "__SKIPPED=$n"; }',
  'done',
  'echo "__SNAPSHOT=$s"',
].join('\n');

// Every entry the snapshot would have taken goes aside (the newer gateway's versions, and what it
// created: OpenClaw's state/ SQLite stores), so the old gateway finds its state dir exactly as it left it.
// The newer gateway still runs (ssh needs a started machine) and opens its stores by path: first the
// watchdog's hold file, then its processes (cwd its package dir, running its entry) are frozen
// (SIGSTOP), so nothing it does lands in the files put back; the deploy that follows stops it frozen.
const RESTORE_SCRIPT = [
  'set -e',
  'd="$1"; s="$2"; h="$3"; g="$4"; e="$5"; shift 5',
  MADE_BY_US('s', SNAPSHOT_PREFIX),
  `{ [ -d "$s" ] && [ ! -L "$s" ]; } || exit ${MISSING}`,
  'if [ -n "$h" ]; then',
  '  hd=$(dirname -- "$h"); mkdir -p -- "$hd"; t=$(mktemp "$hd/.clawdfly-hold.XXXXXXXX")',
  '  echo "rollback: the newer gateway is held while the state it replaced is put back" > "$t"; mv -f -- "$t" "$h"',
  '  for p in /proc/[0-9]*; do',
  '    [ "$(readlink "$p/cwd" 2>/dev/null)" = "$g" ] || continue',
  '    tr "\\000" " " < "$p/cmdline" 2>/dev/null | grep -q -F -- "$e gateway" || continue',
  '    if kill -STOP "${p#/proc/}" 2>/dev/null; then echo "__HELD=${p#/proc/}"; fi',
  '  done',
  'fi',
  KEPT_FN,
  `a=$(mktemp -d "$d/${ASIDE_PREFIX}XXXXXXXX")`,
  `${EACH_ENTRY('$d')}`,
  '  kept "$@" || continue',
  '  mv -- "$p" "$a/$n"',
  'done',
  `${EACH_ENTRY('$s')}`,
  '  mv -- "$p" "$d/$n"',
  'done',
  'rmdir -- "$s"',
  'echo "__ASIDE=$a"',
].join('\n');

const DISCARD_SCRIPT = [
  'set -e',
  'd="$1"; a="$2"; h="$3"; shift 3',
  MADE_BY_US('a', ASIDE_PREFIX),
  // the hold the restore set: the gateway now running is the verified older one (rm removes a link, not its target)
  'if [ -n "$h" ]; then rm -f -- "$h"; fi',
  // the newer gateway's own entries it wrote again after they were set aside (rm -rf removes a link, never its target)
  'for n in "$@"; do case "$n" in ""|*/*|.|..) continue ;; esac; if [ -e "$d/$n" ] || [ -L "$d/$n" ]; then rm -rf -- "$d/$n"; fi; done',
  // rm -rf never follows a link it meets inside; the folder itself must be a folder, not a link
  `{ [ -d "$a" ] && [ ! -L "$a" ]; } || exit 0`,
  'rm -rf -- "$a"',
].join('\n');

// A snapshot no release needs (an upgrade that never deployed its image, or one returned from):
// removed as the owner, only a folder of that shape, never through a link.
const DROP_SCRIPT = [
  'set -e',
  'd="$1"; s="$2"',
  MADE_BY_US('s', SNAPSHOT_PREFIX),
  `{ [ -d "$s" ] && [ ! -L "$s" ]; } || exit 0`,
  'rm -rf -- "$s"',
].join('\n');

export interface Snapshot {
  dir: string;
  skipped: string[];
}

export async function snapshotState(fly: FlyClient, stateDir: string, machineId: string): Promise<Snapshot> {
  let out: string;
  try {
    out = await fly.ssh(asDirOwner(stateDir, SNAPSHOT_SCRIPT, 'sh', [stateDir, ...NOT_SNAPSHOTTED]), { machineId });
  } catch (error) {
    if (error instanceof FlyRemoteExitError && error.remoteStatus === NO_SPACE) {
      const [need, free] = (/__NOSPACE=(\d+) (\d*)/.exec(error.stderr) ?? []).slice(1).map((v) => Math.ceil(Number(v || 0) / 1024));
      throw new ClawdflyError(`the volume has not enough free space to keep a copy of the old gateway's files for the way back (${need ?? '?'} MB needed, ${free ?? '?'} MB free); nothing was changed`, {
        hint: 'fly volumes extend <volume id> -s <GB>  (fly volumes list shows the id), then clawdfly upgrade again',
        code: 'snapshot-no-space',
      });
    }
    throw error;
  }
  const dir = /^__SNAPSHOT=(.+)$/m.exec(out)?.[1];
  if (!dir || !isSnapshotPath(stateDir, dir)) throw new ClawdflyError(`keeping the old gateway's files in ${stateDir} did not confirm`, { hint: 'clawdfly upgrade again (nothing was deployed)', code: 'snapshot-failed' });
  return { dir, skipped: [...out.matchAll(/^__SKIPPED=(.+)$/gm)].map((m) => m[1]!) };
}

/** A path a snapshot can have: straight under the state dir, with mktemp's name. Anything else in releases.json is refused. */
export function isSnapshotPath(stateDir: string, path: string): boolean {
  return posix.dirname(path) === stateDir && new RegExp(`^\\${SNAPSHOT_PREFIX}[A-Za-z0-9]+$`).test(posix.basename(path));
}

/** A path RESTORE_SCRIPT sets the newer gateway's files aside in. */
export function isAsidePath(stateDir: string, path: string): boolean {
  return posix.dirname(path) === stateDir && new RegExp(`^\\${ASIDE_PREFIX}[A-Za-z0-9]+$`).test(posix.basename(path));
}

/**
 * Removes the newer gateway's files set aside by a rollback (only a path of that shape, never through
 * a link), and `ownEntries` (top-level names only the newer gateway writes) it wrote again meanwhile.
 */
export async function discardAside(fly: FlyClient, stateDir: string, machineId: string, aside: string, ownEntries: string[] = [], holdFile = ''): Promise<void> {
  if (!isAsidePath(stateDir, aside)) throw new ClawdflyError(`${aside} is not a folder clawdfly set aside in ${stateDir}`, { code: 'aside-invalid' });
  await fly.ssh(asDirOwner(stateDir, DISCARD_SCRIPT, 'sh', [stateDir, aside, holdFile, ...ownEntries]), { machineId });
}

/** The newer gateway the restore holds: its package dir and entry, and the watchdog's hold file. */
export interface GatewayHold {
  holdFile: string;
  packageDir: string;
  entry: string;
}

/** Removes a snapshot (gone already: nothing to do). */
export async function dropSnapshot(fly: FlyClient, stateDir: string, machineId: string, snapshot: string): Promise<void> {
  if (!isSnapshotPath(stateDir, snapshot)) throw new ClawdflyError(`${snapshot} is not a clawdfly snapshot of ${stateDir}`, { code: 'snapshot-invalid', exitCode: 2 });
  await fly.ssh(asDirOwner(stateDir, DROP_SCRIPT, 'sh', [stateDir, snapshot]), { machineId });
}

/** Puts the snapshot's entries back; returns where the newer gateway's were set aside. */
export async function restoreStateSnapshot(fly: FlyClient, stateDir: string, machineId: string, snapshot: string, hold?: GatewayHold): Promise<string> {
  if (!isSnapshotPath(stateDir, snapshot)) throw new ClawdflyError(`${snapshot} is not a clawdfly snapshot of ${stateDir}`, { hint: 'check .clawdfly/releases.json', code: 'snapshot-invalid', exitCode: 2 });
  try {
    const out = await fly.ssh(asDirOwner(stateDir, RESTORE_SCRIPT, 'sh', [stateDir, snapshot, hold?.holdFile ?? '', hold?.packageDir ?? '', hold?.entry ?? '', ...NOT_SNAPSHOTTED]), { machineId });
    return /^__ASIDE=(.+)$/m.exec(out)?.[1] ?? '';
  } catch (error) {
    if (error instanceof FlyRemoteExitError && error.remoteStatus === MISSING) {
      throw new ClawdflyError(`the files kept before the upgrade (${snapshot}) are no longer on the volume`, {
        hint: `clawdfly restore <the backup taken before the upgrade, in .clawdfly/backups/>  puts the whole ${stateDir} back`,
        code: 'snapshot-missing',
      });
    }
    throw error;
  }
}
