/**
 * `clawdfly restore`: put a verified archive back on the machine.
 *
 *   1. the archive is read in full here and checked against its manifest (a truncated or tampered
 *      one is refused with exit 2 before any flyctl call);
 *   2. the machine's current state is backed up here first (the way back, and the source of
 *      "what will be replaced");
 *   3. one ssh call streams the archive to the machine, which extracts it into a fresh
 *      `mktemp`-named dir under the state dir and checks it against the manifest and the archive's
 *      sha256, then leaves it staged (`.clawdfly-staged-restore-*`, named in `.clawdfly-restore.json`);
 *   4. the machine restarts; its entrypoint (prepare-data.mjs) moves the current entries into
 *      `.pre-restore-<stamp>-*` and the staged ones in before the gateway starts; once the gateway
 *      listens, clawdfly confirms and the `.pre-restore-*` dir is removed (`--keep-previous` keeps
 *      it). A boot that finds the restore still unconfirmed puts the old state back by itself.
 *      (An image made by an older clawdfly has no such step: the script swaps at once instead.)
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { ClawdflyError, UsageError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import { FlyRemoteExitError } from '../fly/errors.js';
import type { Machine } from '../fly/json.js';
import type { Project } from '../project/project.js';
import { EXCLUDED_PREFIXES, FILESYSTEM_NAMES, PENDING_NAME, type Manifest, type VerifiedArchive } from './archive.js';
import { remoteStderr, takeBackup, type BackupResult } from './backup.js';
import { backupExcludes } from '../gateway/backup-excludes.js';
import { agentCommand, agentFrame, agentInput, agentReply } from '../remote/agent-call.js';
import { AGENT_STATUS } from '../remote/agent/protocol.js';
import { quoteWord } from '../fly/quote.js';
import { GATEWAY_UID, STATE_DIR } from '../gateway/runtime.js';
import { t } from '../i18n/index.js';

const IDLE_TIMEOUT_MS = Number(process.env['CLAWDFLY_TRANSFER_IDLE_MS'] || 120_000);
/** A staged restore is applied only by a boot this soon after staging (the restart that follows it). */
export const APPLY_WITHIN_MS = Number(process.env['CLAWDFLY_RESTORE_APPLY_WITHIN_MS'] || 10 * 60_000);

export interface RestoreChanges {
  replaced: string[];
  removed: string[];
  added: string[];
  unchanged: number;
}

/** The refusals that need no machine: an archive of another app or another gateway release. */
export function checkArchiveFits(archive: VerifiedArchive, project: Project, opts: { appGiven: boolean; force: boolean }): void {
  const m = archive.manifest;
  if (m.app !== project.app && !opts.appGiven) {
    throw new UsageError(
      t('restore.refused.otherApp', { archiveApp: m.app, app: project.app }),
      t('restore.refused.otherAppHint', { app: project.app }),
      'other-app',
    );
  }
  const excluded = backupExcludes().map((e) => (e.startsWith('re:') ? new RegExp(e.slice(3)) : e));
  const leftOut = (top: string) => excluded.some((e) => (typeof e === 'string' ? e === top : e.test(top))) || EXCLUDED_PREFIXES.some((p) => top.startsWith(p)) || FILESYSTEM_NAMES.includes(top) || top.startsWith(PENDING_NAME);
  const foreign = archive.files.map((f) => f.path).filter((p) => leftOut(p.split('/')[0]!));
  if (foreign.length) {
    throw new UsageError(t('restore.refused.foreign', { paths: foreign.slice(0, 3).join(', ') }), t('restore.refused.foreignHint'), 'archive-foreign');
  }
  if (m.runtime !== project.runtime.id && !opts.force) {
    throw new UsageError(
      t('restore.refused.otherRuntime', { archiveRuntime: m.runtime, app: project.app, runtime: project.runtime.id }),
      t('restore.refused.otherRuntimeHint'),
      'other-runtime',
    );
  }
}

/** What the archive will change in the state the machine has now. */
export function changesBetween(current: Manifest, incoming: Manifest): RestoreChanges {
  const now = new Map(current.files.map((f) => [f.path, f.sha256]));
  const next = new Map(incoming.files.map((f) => [f.path, f.sha256]));
  const changes: RestoreChanges = { replaced: [], removed: [], added: [], unchanged: 0 };
  for (const [path, sha] of next) {
    if (!now.has(path)) changes.added.push(path);
    else if (now.get(path) !== sha) changes.replaced.push(path);
    else changes.unchanged++;
  }
  for (const path of now.keys()) if (!next.has(path)) changes.removed.push(path);
  return changes;
}

/** The machine's current state, saved locally before anything changes. */
export function backupCurrent(project: Project, fly: FlyClient, machine: Machine): Promise<BackupResult> {
  return takeBackup(project, fly, machine);
}

/**
 * What the machine did with the upload: `staged` (its image applies the tree at the next boot,
 * before the gateway starts) or `live` (an image made by an older clawdfly: swapped at once).
 */
export type SwapResult = StagedSwap | LiveSwap;

export interface StagedSwap {
  kind: 'staged';
  stage: string;
  files: number;
  bytes: number;
}

export interface LiveSwap {
  kind: 'live';
  preRestore: string;
  files: number;
  bytes: number;
  movedAside: string[];
  problems: string[];
  /** Links and special files (no archive holds them) put back in place after the swap. */
  keptInPlace?: string[];
  /** The same, where the restored tree has no folder for them: they stay in the .pre-restore-* dir. */
  leftAside?: string[];
}

/** The staged restore's marker on the volume, as the boot left it (see applyStagedRestore in prepare-data.mjs). */
export interface RestoreOutcome {
  /** `applied` (the boot swapped it in), `reverted` (a later boot put the old state back), `staged` (no boot applied it), `failed`, `none`. */
  state: string;
  confirmed: boolean;
  preRestore: string | null;
  failedRestore: string | null;
  dropped: boolean;
  error: string | null;
}

/** Links and special files on the machine now (the safety backup's manifest names them): an archive cannot bring them back. */
export function unarchivable(current: Manifest): { path: string; reason: string; target?: string }[] {
  // the names are the gateway user's: no control character reaches a terminal
  const clean = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return current.skipped
    .filter((s) => s.reason === 'symlink' || s.reason === 'special file')
    .map((s) => ({ path: clean(s.path), reason: s.reason, ...(typeof s.target === 'string' ? { target: clean(s.target) } : {}) }));
}

/** A tag for this restore's `.pre-restore-*` folder: how a run that lost the script's answer (Ctrl-C) finds whether the swap happened. */
export function swapTag(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Whether the upload tagged `tag` went through: its `.pre-restore-*` folder (a live swap) or its
 * `.clawdfly-staged-restore-*` folder (staged for the next boot), or undefined.
 * Looked up as the state dir's owner, real folders only, names checked here again.
 */
export async function findSwap(project: Project, fly: FlyClient, machine: Machine, tag: string): Promise<{ kind: 'live'; preRestore: string } | { kind: 'staged'; stage: string } | undefined> {
  const out = await fly.ssh(agentCommand('find-swap', project.stateDir, { tag }), { machineId: machine.id, input: agentInput() });
  const answer = agentReply<'find-swap'>(out);
  const live = (answer?.preRestore ?? []).find((name) => /^\.pre-restore-[0-9TZ]+-[A-Za-z0-9]+$/.test(name) && name.includes(`-${tag}`));
  if (live) return { kind: 'live', preRestore: live };
  const stage = (answer?.staged ?? []).find((name) => /^\.clawdfly-staged-restore-[A-Za-z0-9]+$/.test(name) && name.startsWith(`.clawdfly-staged-restore-${tag}`));
  return stage ? { kind: 'staged', stage } : undefined;
}

/** Step 3: upload, extract into a fresh temp dir, verify, swap. Throws with nothing changed on any failure before the swap. */
export async function uploadAndSwap(project: Project, fly: FlyClient, machine: Machine, file: string, archive: VerifiedArchive, onSent?: (n: number) => void, tag = swapTag()): Promise<SwapResult> {
  const status = AGENT_STATUS;
  let stdout: string;
  try {
    const result = await fly.sshTransfer(agentCommand('restore', project.stateDir, { sha256: archive.archiveSha256, excludes: backupExcludes(), tag, applyWithinMs: APPLY_WITHIN_MS }), {
      machineId: machine.id,
      stdinPrefix: agentFrame(),
      stdinFile: file,
      idleTimeoutMs: IDLE_TIMEOUT_MS,
      onStdinBytes: onSent,
    });
    if (result.sinkError) throw new ClawdflyError(`reading ${file} failed: ${result.sinkError.message}`, { code: 'archive-unreadable' });
    stdout = result.stdout;
  } catch (error) {
    if (error instanceof FlyRemoteExitError && error.remoteStatus === status.damaged) {
      throw new ClawdflyError(`the archive arrived damaged on machine ${machine.id}; nothing on the machine was changed`, {
        hint: 'run the restore again (the connection may have dropped)',
        code: 'upload-damaged',
        evidence: remoteStderr(error.stderr),
      });
    }
    if (error instanceof FlyRemoteExitError && error.remoteStatus === status.swapFailed) {
      throw new ClawdflyError(`the swap on machine ${machine.id} failed; the previous files were put back`, {
        hint: `clawdfly ssh -- ls -la ${STATE_DIR}  (look for .pre-restore-* if anything is missing)`,
        code: 'swap-failed',
        evidence: remoteStderr(error.stderr),
      });
    }
    if (error instanceof FlyRemoteExitError && error.remoteStatus === status.refused) {
      const said = remoteStderr(error.stderr);
      throw new ClawdflyError(`a folder in ${project.stateDir} cannot be moved aside by the gateway user; nothing on the machine was changed`, {
        hint: `give it back to the gateway user, e.g.: fly ssh console -a ${quoteWord(project.app)} -C ${quoteWord(`chown -R ${GATEWAY_UID}:${GATEWAY_UID} -- <folder>`)}  then run the restore again`,
        code: 'restore-blocked',
        evidence: said,
      });
    }
    if (error instanceof FlyRemoteExitError) {
      throw new ClawdflyError(`the restore script on machine ${machine.id} failed with status ${error.remoteStatus}`, { code: 'restore-failed', evidence: remoteStderr(error.stderr) });
    }
    throw error;
  }
  const staged = stdout.split('\n').find((l) => l.startsWith('{"staged":true'));
  if (staged) return { kind: 'staged', ...(JSON.parse(staged) as Omit<StagedSwap, 'kind'>) };
  const line = stdout.split('\n').find((l) => l.startsWith('{"restored":true'));
  if (!line) throw new ClawdflyError(`the restore on machine ${machine.id} did not confirm`, { hint: `clawdfly ssh -- ls -la ${STATE_DIR}`, code: 'restore-unconfirmed' });
  return { kind: 'live', ...(JSON.parse(line) as Omit<LiveSwap, 'kind'>) };
}

/**
 * After the gateway listened: what the boot did with the staged restore, and, when it applied it,
 * the confirmation (marker removed; the replaced state removed unless `keep`). Called with `keep`
 * or `drop` only once the gateway is verified (an unconfirmed restore is reverted by the machine's
 * next boot); `status` only reads; `discard` takes back a restore still staged (its restart failed).
 */
export async function confirmRestore(project: Project, fly: FlyClient, machine: Machine, how: 'keep' | 'drop' | 'status' | 'discard'): Promise<RestoreOutcome> {
  const stdout = await fly.ssh(agentCommand('confirm-restore', project.stateDir, { how }), { machineId: machine.id, input: agentInput() });
  const line = stdout.split('\n').find((l) => l.startsWith('{"confirmed":'));
  if (!line) throw new ClawdflyError(`the machine did not say what became of the restore`, { hint: `clawdfly ssh -- ls -la ${STATE_DIR}`, code: 'restore-unconfirmed' });
  return JSON.parse(line) as RestoreOutcome;
}

/** Step 4's clean-up: the previous state's dir on the volume, once the restored state is live. */
export async function dropPrevious(project: Project, fly: FlyClient, machine: Machine, name: string): Promise<void> {
  await fly.ssh(agentCommand('drop-previous', project.stateDir, { name }), { machineId: machine.id, input: agentInput() });
}

/** A local file we made and no longer need (the safety backup of a restore the user declined). */
export async function discard(file: string): Promise<void> {
  await rm(file, { force: true });
}
