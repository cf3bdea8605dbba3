/**
 * Moving the gateway's config file to and from a machine, safely.
 *
 * The state dir belongs to the gateway user, and whatever runs as that user may plant symlinks in
 * it, so every script here runs as the dir's owner (remote/as-owner.ts), uses `mktemp` names
 * (never a fixed temp name), and never chmods or chowns anything.
 *
 * Write protocol, ONE ssh round trip (a broken connection at any step leaves the live file untouched):
 *   1. under `flock` on the state dir (two pushes at once run one after the other), stream the
 *      bytes over stdin into a fresh `mktemp` file next to the live one (0600 from the start);
 *   2. check its sha256 against the local bytes (a cut-short upload is thrown away); for a runtime
 *      with a validator command (runtime.configValidator), have the machine's own installed gateway judge the
 *      upload (`config validate --json` with the config-path variable on it, in a scratch HOME and
 *      state dir): a file it refuses is thrown away and its verdict comes back base64-encoded;
 *   3. copy the current file to `<file>.<machine's UTC stamp>.bak` (via another mktemp name, so no
 *      partial backup either), rename the upload over the live file (rename(2) in one directory:
 *      atomic), then prune the OLDEST backups by age, never the one just made.
 * `ssh console -C` is not a shell (flyctl.md §2.11): every remote command is an argv array, and the
 * scripts take their paths as positional parameters ("$1"…), never spliced into the script text.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import JSON5 from 'json5';
import type { FlyClient } from '../fly/client.js';
import { FlyRemoteExitError } from '../fly/errors.js';
import { isDeepStrictEqual } from 'node:util';
import { ClawdflyError } from '../errors.js';
import type { Project } from '../project/project.js';
import { GATEWAY_MATERIALIZED_DEFAULTS, GATEWAY_STAMPED_KEYS, gatewayCli, type GatewayRuntime } from '../gateway/runtime.js';
import { parseValidateOutput } from '../gateway/validate.js';
import { asDirOwner } from './as-owner.js';

/** How many `<file>.<stamp>.bak` backups a push keeps by default. */
export const DEFAULT_KEEP_BACKUPS = 5;

/** Remote exit status our read script uses for "the file does not exist". */
const MISSING_STATUS = 44;
/** Remote exit status of a push whose upload does not match what was sent. */
const CORRUPT_STATUS = 4;
/** Remote exit status of a push the machine's gateway refused (its validator's verdict on stderr). */
const REFUSED_STATUS = 7;
/** Remote exit status of a push that waited too long for another push to finish. */
const BUSY_STATUS = 6;
/** How long a push waits for a concurrent one (seconds). */
const LOCK_WAIT_S = 60;

export interface RemoteConfigPaths {
  /** The live file, e.g. <state dir>/<config file>. */
  file: string;
  dir: string;
  /** The file's name in `dir`. */
  name: string;
}

export function remoteConfigPaths(project: Pick<Project, 'remoteConfigPath' | 'stateDir'>): RemoteConfigPaths {
  const file = project.remoteConfigPath;
  const dir = posix.dirname(file) || project.stateDir;
  return { file, dir, name: posix.basename(file) };
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(typeof text === 'string' ? Buffer.from(text, 'utf8') : text).digest('hex');
}

/** The remote command readRemoteConfig runs (a deploy plan prints it). */
export function readConfigCommand(project: Project): string[] {
  const { file, dir } = remoteConfigPaths(project);
  const script = `if [ -f "$1" ] && [ ! -L "$1" ]; then exec cat -- "$1"; elif [ -e "$1" ] || [ -L "$1" ]; then echo "$1 is not a regular file" >&2; exit 2; else exit ${MISSING_STATUS}; fi`;
  return asDirOwner(dir, script, 'sh', [file]);
}

/**
 * The remote config text, or undefined when the file does not exist. A failed connection (or any
 * other flyctl failure) throws: "missing" is only ever the remote test saying so.
 */
export async function readRemoteConfig(fly: FlyClient, project: Project, machineId: string): Promise<string | undefined> {
  try {
    return await fly.ssh(readConfigCommand(project), { machineId });
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

/** Shell lines: `$d`/`$n` are the dir and the file's name; takes the state dir's lock on fd 9. */
const LOCKED = [
  `exec 9<"$d" || exit 3`,
  `if command -v flock >/dev/null 2>&1; then flock -w ${LOCK_WAIT_S} 9 || { echo "another config push is still running on this machine" >&2; exit ${BUSY_STATUS}; }; fi`,
];

/**
 * The push script: `$1` file, `$2` sha256, `$3` backups to keep; then, for a runtime with a
 * validator, `$4` the state-dir variable, `$5` the config-path variable and the validator's argv.
 * The new bytes on stdin.
 */
const PUSH_SCRIPT = [
  'set -e',
  'f="$1"; sum="$2"; keep="$3"; d="${f%/*}"; n="${f##*/}"',
  ...LOCKED,
  't=""; bt=""; s=""',
  'trap \'[ -z "$t" ] || rm -f -- "$t"; [ -z "$bt" ] || rm -f -- "$bt"; [ -z "$s" ] || rm -rf -- "$s"\' EXIT',
  't=$(mktemp "$d/.$n.XXXXXXXX")',
  'cat > "$t"',
  `[ "$(sha256sum < "$t" | cut -d" " -f1)" = "$sum" ] || { echo "the upload does not match what was sent" >&2; exit ${CORRUPT_STATUS}; }`,
  'if [ "$#" -gt 5 ]; then',
  '  sv="$4"; cv="$5"; shift 5',
  // A scratch HOME and state dir: judging a file must not touch the live state.
  '  s=$(mktemp -d)',
  '  set +e; v=$(env HOME="$s" "$sv=$s/state" "$cv=$t" NO_COLOR=1 "$@" 2>&1); rc=$?; set -e',
  `  if [ "$rc" -ne 0 ]; then printf '__VERDICT=%s\\n' "$(printf '%s' "$v" | base64 | tr -d '\\n')" >&2; exit ${REFUSED_STATUS}; fi`,
  'fi',
  'b=""',
  'if [ -f "$f" ] && [ ! -L "$f" ]; then',
  '  b="$f.$(date -u +%Y%m%dT%H%M%S%3NZ).bak"',
  '  bt=$(mktemp "$d/.$n.bak.XXXXXXXX")',
  '  cat -- "$f" > "$bt"',
  '  mv -f -- "$bt" "$b"; bt=""',
  '  echo "__BACKUP=$b"',
  'fi',
  'mv -f -- "$t" "$f"; t=""',
  'echo __COMMITTED',
  // Prune by age (mtime), never the backup just made; only names a push can have made.
  'set --',
  'for x in "$f".[0-9]*.bak; do',
  '  [ "$x" = "$b" ] && continue',
  '  case "${x#"$f".}" in *[!0-9TZ.a-z]*) continue ;; esac',
  '  [ -f "$x" ] && [ ! -L "$x" ] && set -- "$@" "$x"',
  'done',
  'old=$(( keep - 1 )); [ -n "$b" ] || old=$keep',
  'if [ "$#" -gt 0 ]; then ls -1t -- "$@" | tail -n +$(( old + 1 )) | while IFS= read -r x; do rm -f -- "$x"; done; fi',
].join('\n');

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
  opts: { keepBackups?: number } = {},
): Promise<PushResult> {
  const paths = remoteConfigPaths(project);
  const bytes = Buffer.from(text, 'utf8');
  const sha256 = sha256Hex(bytes);
  const keep = Math.max(1, Math.floor(opts.keepBackups ?? DEFAULT_KEEP_BACKUPS));
  const params = [paths.file, sha256, String(keep), ...validatorParams(project.runtime)];
  let committed: string;
  try {
    committed = await fly.ssh(asDirOwner(paths.dir, PUSH_SCRIPT, 'sh', params), { machineId, input: bytes });
  } catch (error) {
    if (error instanceof FlyRemoteExitError && error.remoteStatus === REFUSED_STATUS) throw refusedByMachine(project.runtime, paths.file, error.stderr);
    if (error instanceof FlyRemoteExitError && error.remoteStatus === CORRUPT_STATUS) {
      throw new ConfigTransferError(`the upload to ${paths.dir} arrived damaged (its sha256 is not ${sha256}); ${paths.file} was not changed`, {
        hint: 'run the command again (it is safe to repeat)',
        code: 'upload-corrupted',
      });
    }
    if (error instanceof FlyRemoteExitError && error.remoteStatus === BUSY_STATUS) {
      throw new ConfigTransferError(`another config push to ${paths.file} was still running after ${LOCK_WAIT_S} s; nothing was changed`, {
        hint: 'wait for it to finish, then: clawdfly config diff',
        code: 'push-busy',
      });
    }
    throw error;
  }
  if (!committed.includes('__COMMITTED')) {
    throw new ConfigTransferError(`the remote commit of ${paths.file} did not confirm`, { hint: 'clawdfly config diff  (shows what is on the machine now)', code: 'commit-unconfirmed' });
  }
  const backupPath = /^__BACKUP=(.+)$/m.exec(committed)?.[1];
  return { sha256, bytes: bytes.length, backupPath };
}

/** The push script's validator parameters: none for a runtime without a validator command. */
function validatorParams(runtime: GatewayRuntime): string[] {
  if (runtime.configValidator.kind !== 'gateway') return [];
  return [runtime.env.stateDir, runtime.env.configPath, ...gatewayCli(runtime, runtime.configValidator.args)];
}

/** The machine's gateway said no: its own words, decoded from the script's `__VERDICT=` line. */
function refusedByMachine(runtime: GatewayRuntime, file: string, stderr: string): ConfigTransferError {
  const encoded = /__VERDICT=([A-Za-z0-9+/=]*)/.exec(stderr)?.[1] ?? '';
  const text = Buffer.from(encoded, 'base64').toString('utf8');
  const verdict = parseValidateOutput(text);
  const issues = (verdict?.issues ?? []).map((i) => `${i.path ?? '<root>'}: ${i.message ?? 'invalid'}`);
  const evidence = issues.length > 0 ? issues : text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-5);
  const what = verdict ? `the machine's ${runtime.cliName} refused the config` : `the machine's ${runtime.cliName} could not check the config (is ${runtime.id} deployed? clawdfly status)`;
  return new ConfigTransferError(`${what}; ${file} was not changed`, {
    hint: `fix it, then run the command again (check locally first: clawdfly config validate)`,
    code: 'config-refused-remote',
    evidence,
  });
}

/**
 * Puts a backup back in place of the live file, atomically. With no backup (the push created the
 * file), the rejected file is moved aside to `<dir>/.<file>.rejected.<random>` instead.
 */
export async function restoreBackup(fly: FlyClient, project: Project, machineId: string, backupPath: string | undefined): Promise<void> {
  const paths = remoteConfigPaths(project);
  if (backupPath === undefined) {
    const aside = ['set -e', 'f="$1"; d="${f%/*}"; n="${f##*/}"', ...LOCKED, 'if [ -f "$f" ] && [ ! -L "$f" ]; then a=$(mktemp "$d/.$n.rejected.XXXXXXXX"); mv -f -- "$f" "$a"; fi'].join('\n');
    await fly.ssh(asDirOwner(paths.dir, aside, 'sh', [paths.file]), { machineId });
    return;
  }
  const script = [
    'set -e',
    'f="$1"; b="$2"; d="${f%/*}"; n="${f##*/}"',
    ...LOCKED,
    '{ [ -f "$b" ] && [ ! -L "$b" ]; } || { echo "backup $b is missing" >&2; exit 3; }',
    't=""; trap \'[ -z "$t" ] || rm -f -- "$t"\' EXIT',
    't=$(mktemp "$d/.$n.XXXXXXXX")',
    'cat -- "$b" > "$t"',
    'mv -f -- "$t" "$f"; t=""',
    'echo __RESTORED',
  ].join('\n');
  const result = await fly.ssh(asDirOwner(paths.dir, script, 'sh', [paths.file, backupPath]), { machineId });
  if (!result.includes('__RESTORED')) {
    throw new ConfigTransferError(`restoring ${backupPath} did not confirm`, { hint: 'clawdfly config diff', code: 'restore-unconfirmed' });
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
      if (!there.found || !isDeepStrictEqual(there.value, value)) continue; // absent, or a value someone chose
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
  return isDeepStrictEqual(normalized.local, normalized.remote);
}
