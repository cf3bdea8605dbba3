/**
 * Moving the gateway's config file to and from a machine, safely.
 *
 * Write protocol (a broken connection at any step leaves the live file untouched):
 *   1. stream the bytes over stdin into `<stateDir>/.<file>.new` (`tee`, created 0600 by umask 077,
 *      its stdout discarded on the machine);
 *   2. ONE `sh -c` that checks the temp file's sha256 against the local bytes, copies the current
 *      file to `<file>.<stamp>.bak`
 *      (via a temp name, so no partial backup either), `chmod 600`s the temp file and renames
 *      it over the live file (rename(2) in one directory: atomic), then prunes old backups.
 * `ssh console -C` is not a shell (flyctl.md §2.11): every remote command is an argv array, and the
 * scripts take their paths as positional parameters ("$1"…), never spliced into the script text.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import JSON5 from 'json5';
import type { FlyClient } from '../fly/client.js';
import { FlyRemoteExitError } from '../fly/errors.js';
import { shScript } from '../fly/quote.js';
import { ClawdflyError } from '../errors.js';
import type { Project } from '../project/project.js';
import { GATEWAY_MATERIALIZED_DEFAULTS, GATEWAY_STAMPED_KEYS } from '../gateway/runtime.js';

/** How many `<file>.<stamp>.bak` backups a push keeps by default. */
export const DEFAULT_KEEP_BACKUPS = 5;

/** Remote exit status our read script uses for "the file does not exist". */
const MISSING_STATUS = 44;

export interface RemoteConfigPaths {
  /** The live file, e.g. <state dir>/<config file>. */
  file: string;
  dir: string;
  /** Upload target: `<dir>/.<name>.new`. */
  temp: string;
  /** Glob for our backups: `<file>.[0-9]*.bak` (never matches the gateway's own `<file>.bak`). */
  backupGlob: string;
}

export function remoteConfigPaths(project: Pick<Project, 'remoteConfigPath' | 'stateDir'>): RemoteConfigPaths {
  const file = project.remoteConfigPath;
  const dir = posix.dirname(file) || project.stateDir;
  const name = posix.basename(file);
  return { file, dir, temp: posix.join(dir, `.${name}.new`), backupGlob: `${file}.[0-9]*.bak` };
}

/** `20260125T114412345Z`: sorts lexicographically = chronologically, no characters the shell cares about. */
export function backupStamp(date = new Date()): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(typeof text === 'string' ? Buffer.from(text, 'utf8') : text).digest('hex');
}

/**
 * The remote config text, or undefined when the file does not exist. A failed connection (or any
 * other flyctl failure) throws: "missing" is only ever the remote test saying so.
 */
export async function readRemoteConfig(fly: FlyClient, project: Project, machineId: string): Promise<string | undefined> {
  const { file } = remoteConfigPaths(project);
  const script = `if [ -f "$1" ]; then exec cat -- "$1"; elif [ -e "$1" ]; then echo "$1 is not a regular file" >&2; exit 2; else exit ${MISSING_STATUS}; fi`;
  try {
    return await fly.ssh([...shScript(script), 'sh', file], { machineId });
  } catch (error) {
    if (error instanceof FlyRemoteExitError && error.remoteStatus === MISSING_STATUS) return undefined;
    throw error;
  }
}

export interface PushResult {
  sha256: string;
  bytes: number;
  /** Where the previous file was kept; undefined when there was none. */
  backupPath?: string;
}

export class ConfigTransferError extends ClawdflyError {}

/**
 * Writes `text` to the machine's config path atomically (see the protocol above). Throws on any
 * failure; the live file is then either the old one or (only when the final step's answer was
 * lost) the new one, never a partial write.
 */
export async function pushConfigFile(
  fly: FlyClient,
  project: Project,
  machineId: string,
  text: string,
  opts: { keepBackups?: number; now?: Date } = {},
): Promise<PushResult> {
  const paths = remoteConfigPaths(project);
  const bytes = Buffer.from(text, 'utf8');
  const sha256 = sha256Hex(bytes);
  const keep = Math.max(1, Math.floor(opts.keepBackups ?? DEFAULT_KEEP_BACKUPS));

  // 1. upload into the temp file (umask 077: never readable by others, not even for a moment)
  await fly.ssh([...shScript('umask 077 && exec tee -- "$1" >/dev/null'), 'sh', paths.temp], { machineId, input: bytes });

  // 2. verify what arrived and commit, in one round trip (each ssh call costs seconds on Fly)
  const backupPath = `${paths.file}.${backupStamp(opts.now)}.bak`;
  const commit = [
    'set -e',
    'f="$1"; t="$2"; b="$3"; sum="$4"; keep="$5"',
    '[ -f "$t" ] || { echo "upload $t is gone" >&2; exit 3; }',
    '[ "$(sha256sum "$t" | cut -d" " -f1)" = "$sum" ] || { echo "upload $t does not match what was sent" >&2; exit 4; }',
    'if [ -f "$f" ]; then cp -p "$f" "$b.tmp"; mv -f "$b.tmp" "$b"; echo "__BACKUP=$b"; fi',
    'chmod 600 "$t"',
    // ssh runs as root; the gateway runs as the state dir's owner and must still read (and watch) the file.
    'chown "$(stat -c %u:%g "$(dirname -- "$f")")" "$t"',
    'mv -f "$t" "$f"',
    'echo __COMMITTED',
    'ls -1r $6 2>/dev/null | tail -n +$((keep + 1)) | while IFS= read -r old; do rm -f -- "$old"; done',
  ].join('; ');
  let committed: string;
  try {
    committed = await fly.ssh([...shScript(commit), 'sh', paths.file, paths.temp, backupPath, sha256, String(keep), paths.backupGlob], { machineId });
  } catch (error) {
    if (error instanceof FlyRemoteExitError && error.remoteStatus === 4) {
      await removeQuietly(fly, machineId, paths.temp);
      throw new ConfigTransferError(`the upload to ${paths.temp} arrived damaged (its sha256 is not ${sha256}); ${paths.file} was not changed`, {
        hint: 'run the command again (it is safe to repeat)',
        code: 'upload-corrupted',
      });
    }
    throw error;
  }
  if (!committed.includes('__COMMITTED')) {
    throw new ConfigTransferError(`the remote commit of ${paths.file} did not confirm`, { hint: 'clawdfly config diff  (shows what is on the machine now)', code: 'commit-unconfirmed' });
  }
  return { sha256, bytes: bytes.length, backupPath: committed.includes('__BACKUP=') ? backupPath : undefined };
}

/**
 * Puts a backup back in place of the live file, atomically and 0600. With no backup (the push
 * created the file), the rejected file is moved aside to `<dir>/.<file>.rejected` instead.
 */
export async function restoreBackup(fly: FlyClient, project: Project, machineId: string, backupPath: string | undefined): Promise<void> {
  const paths = remoteConfigPaths(project);
  if (backupPath === undefined) {
    const aside = posix.join(paths.dir, `.${posix.basename(paths.file)}.rejected`);
    await fly.ssh([...shScript('set -e; if [ -f "$1" ]; then mv -f "$1" "$2"; fi'), 'sh', paths.file, aside], { machineId });
    return;
  }
  const restoreTemp = posix.join(paths.dir, `.${posix.basename(paths.file)}.restore`);
  const script = [
    'set -e',
    'f="$1"; b="$2"; t="$3"',
    '[ -f "$b" ] || { echo "backup $b is missing" >&2; exit 3; }',
    'cp -p "$b" "$t"',
    'chmod 600 "$t"',
    'chown "$(stat -c %u:%g "$(dirname -- "$f")")" "$t"',
    'mv -f "$t" "$f"',
    'echo __RESTORED',
  ].join('; ');
  const result = await fly.ssh([...shScript(script), 'sh', paths.file, backupPath, restoreTemp], { machineId });
  if (!result.includes('__RESTORED')) {
    throw new ConfigTransferError(`restoring ${backupPath} did not confirm`, { hint: 'clawdfly config diff', code: 'restore-unconfirmed' });
  }
}

async function removeQuietly(fly: FlyClient, machineId: string, path: string): Promise<void> {
  try {
    await fly.ssh(['rm', '-f', '--', path], { machineId });
  } catch {
    // best effort: the temp file is not the live file
  }
}

// ---------------------------------------------------------------- semantic comparison

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function parseLoose(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return JSON5.parse(text) as Json;
  }
}

function isObject(value: unknown): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

function getPath(root: Json, parts: string[]): { found: boolean; value?: Json } {
  let node: Json = root;
  for (const part of parts) {
    if (!isObject(node) || !Object.prototype.hasOwnProperty.call(node, part)) return { found: false };
    node = node[part]!;
  }
  return { found: true, value: node };
}

/** Deletes the leaf, then every parent object it left empty (up to, not including, the root). */
function deletePath(root: Json, parts: string[], keepParent: (depth: number) => boolean): void {
  const chain: { [key: string]: Json }[] = [];
  let node: Json = root;
  for (const part of parts.slice(0, -1)) {
    if (!isObject(node)) return;
    chain.push(node);
    node = node[part]!;
  }
  if (!isObject(node)) return;
  delete node[parts[parts.length - 1]!];
  chain.push(node);
  for (let depth = chain.length - 1; depth >= 1; depth--) {
    const obj = chain[depth]!;
    if (Object.keys(obj).length > 0 || keepParent(depth)) break;
    delete chain[depth - 1]![parts[depth - 1]!];
  }
}

/** The remote config with what the gateway adds by itself removed, where the local one does not say otherwise. */
export function withoutGatewayAdditions(local: unknown, remote: unknown): { local: unknown; remote: unknown } {
  const l = structuredClone(local) as Json;
  const r = structuredClone(remote) as Json;
  if (isObject(l)) for (const key of GATEWAY_STAMPED_KEYS) delete l[key];
  if (isObject(r)) for (const key of GATEWAY_STAMPED_KEYS) delete r[key];
  if (!isObject(r)) return { local: l, remote: r };
  const channels = isObject(l) && isObject(l['channels']) ? Object.keys(l['channels']) : [];
  for (const { path, value } of GATEWAY_MATERIALIZED_DEFAULTS) {
    const concrete = path.includes('<channel>') ? channels.map((c) => path.replace('<channel>', c)) : [path];
    for (const p of concrete) {
      const parts = p.split('.');
      if (getPath(l, parts).found) continue; // local says something: compare it as is
      const there = getPath(r, parts);
      if (!there.found || !deepEqual(there.value, value)) continue; // absent, or a value someone chose
      // keep parents the local file has (even if empty there)
      deletePath(r, parts, (depth) => getPath(l, parts.slice(0, depth)).found);
    }
  }
  return { local: l, remote: r };
}

/**
 * Semantic equality of a local config and the one on the machine: key order, whitespace, comments
 * (JSON5) ignored; `meta` ignored; defaults the gateway materializes on start ignored when the local
 * file does not set them. Unparseable text is equal only when byte-identical.
 */
export function configsEquivalent(localText: string, remoteText: string): boolean {
  let local: Json;
  let remote: Json;
  try {
    local = parseLoose(localText);
    remote = parseLoose(remoteText);
  } catch {
    return localText === remoteText;
  }
  const normalized = withoutGatewayAdditions(local, remote);
  return deepEqual(normalized.local, normalized.remote);
}
