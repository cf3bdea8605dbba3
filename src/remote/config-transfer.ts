/**
 * Moving the gateway's config file to and from a machine, safely.
 *
 * The work on the machine is the remote agent's (src/remote/agent/config-file.ts: as the owner of
 * the state dir, fresh names, never through a link), ONE ssh round trip per read, push or restore.
 * A push: under the dir's flock, the upload's sha256 checked, for a runtime with a validator command
 * (runtime.configValidator) the machine's own gateway judges it (`config validate --json`, in a
 * scratch HOME and state dir), then the old file copied to `<file>.<machine's UTC stamp>.bak` and
 * the upload renamed over it (atomic); a broken connection at any step leaves the live file as it was.
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
import { agentCommand, agentInput, agentReply } from './agent-call.js';
import { AGENT_STATUS, CONFIG_LOCK_WAIT_S as LOCK_WAIT_S, type AgentParams } from './agent/protocol.js';

/** How many `<file>.<stamp>.bak` backups a push keeps by default. */
export const DEFAULT_KEEP_BACKUPS = 5;

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

/** The remote command readRemoteConfig runs (a deploy plan prints it; the agent goes on its stdin). */
export function readConfigCommand(project: Pick<Project, 'remoteConfigPath' | 'stateDir'>): string[] {
  const { dir, name } = remoteConfigPaths(project);
  return agentCommand('config-read', dir, { name });
}

/**
 * The remote config text, or undefined when the file does not exist. A failed connection (or any
 * other flyctl failure) throws: "missing" is only ever the remote test saying so.
 */
export async function readRemoteConfig(fly: FlyClient, project: Project, machineId: string): Promise<string | undefined> {
  const { dir, name } = remoteConfigPaths(project);
  let out: string;
  try {
    out = await fly.ssh(readConfigCommand(project), { machineId, input: agentInput() });
  } catch (error) {
    if (error instanceof FlyRemoteExitError && error.remoteStatus === AGENT_STATUS.missing) return undefined;
    throw error;
  }
  const answer = agentReply<'config-read'>(out);
  if (!answer) throw new ConfigTransferError(`reading ${dir}/${name} on machine ${machineId} did not answer`, { hint: 'run the command again', code: 'read-unconfirmed' });
  return Buffer.from(answer.text64, 'base64').toString('utf8');
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
  opts: { keepBackups?: number } = {},
): Promise<PushResult> {
  const paths = remoteConfigPaths(project);
  const bytes = Buffer.from(text, 'utf8');
  const sha256 = sha256Hex(bytes);
  const keep = Math.max(1, Math.floor(opts.keepBackups ?? DEFAULT_KEEP_BACKUPS));
  let committed: string;
  try {
    const params = { name: paths.name, sha256, keep, validator: validatorParams(project.runtime) };
    committed = await fly.ssh(agentCommand('config-push', paths.dir, params), { machineId, input: agentInput(bytes) });
  } catch (error) {
    if (error instanceof FlyRemoteExitError && error.remoteStatus === AGENT_STATUS.refused) throw refusedByMachine(project.runtime, paths.file, error.stderr);
    if (error instanceof FlyRemoteExitError && error.remoteStatus === AGENT_STATUS.damaged) {
      throw new ConfigTransferError(`the upload to ${paths.dir} arrived damaged (its sha256 is not ${sha256}); ${paths.file} was not changed`, {
        hint: 'run the command again (it is safe to repeat)',
        code: 'upload-corrupted',
      });
    }
    if (error instanceof FlyRemoteExitError && error.remoteStatus === AGENT_STATUS.busy) {
      throw new ConfigTransferError(`another config push to ${paths.file} was still running after ${LOCK_WAIT_S} s; nothing was changed`, {
        hint: 'wait for it to finish, then: clawdfly config diff',
        code: 'push-busy',
      });
    }
    throw error;
  }
  const answer = agentReply<'config-push'>(committed);
  if (!answer?.committed) {
    throw new ConfigTransferError(`the remote commit of ${paths.file} did not confirm`, { hint: 'clawdfly config diff  (shows what is on the machine now)', code: 'commit-unconfirmed' });
  }
  return { sha256, bytes: bytes.length, backupPath: answer.backup ? posix.join(paths.dir, answer.backup) : undefined };
}

/** The push script's validator parameters: none for a runtime without a validator command. */
function validatorParams(runtime: GatewayRuntime): AgentParams['config-push']['validator'] {
  if (runtime.configValidator.kind !== 'gateway') return undefined;
  return { stateDirVar: runtime.env.stateDir, configPathVar: runtime.env.configPath, argv: gatewayCli(runtime, runtime.configValidator.args) };
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
  // a backup this module named: straight in the config's dir
  if (backupPath !== undefined && posix.dirname(backupPath) !== paths.dir) throw new ConfigTransferError(`${backupPath} is not a backup of ${paths.file}`, { code: 'restore-unconfirmed' });
  const params = { name: paths.name, backup: backupPath === undefined ? undefined : posix.basename(backupPath) };
  const result = await fly.ssh(agentCommand('config-restore', paths.dir, params), { machineId, input: agentInput() });
  if (backupPath !== undefined && !agentReply<'config-restore'>(result)?.restored) {
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
