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
 * The work on the machine is the remote agent's (src/remote/agent/upgrade-snapshot.ts): as the
 * owner of the state dir, mkdtemp names, never following a link.
 */
import { posix } from 'node:path';
import { ClawdflyError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import { FlyRemoteExitError } from '../fly/errors.js';
import { TMP_SUBDIR, WORKSPACE_SUBDIR } from '../gateway/runtime.js';
import { agentCommand, agentInput, agentReply } from '../remote/agent-call.js';
import { AGENT_STATUS, type GatewayHold } from '../remote/agent/protocol.js';
import { ASIDE_PREFIX, SNAPSHOT_PREFIX } from '../remote/agent/upgrade-snapshot.js';

export { SNAPSHOT_PREFIX };
/** Left where they are: rebuilt on boot (tmp), shared by both gateways as plain files (workspace). */
const NOT_SNAPSHOTTED = [TMP_SUBDIR, WORKSPACE_SUBDIR, 'lost+found'];

export interface Snapshot {
  dir: string;
  skipped: string[];
}

export async function snapshotState(fly: FlyClient, stateDir: string, machineId: string): Promise<Snapshot> {
  let out: string;
  try {
    out = await fly.ssh(agentCommand('upgrade-snapshot', stateDir, { notSnapshotted: NOT_SNAPSHOTTED }), { machineId, input: agentInput() });
  } catch (error) {
    if (error instanceof FlyRemoteExitError && error.remoteStatus === AGENT_STATUS.noSpace) {
      const [need, free] = (/__NOSPACE=(\d+) (\d*)/.exec(error.stderr) ?? []).slice(1).map((v) => Math.ceil(Number(v || 0) / 1024));
      throw new ClawdflyError(`the volume has not enough free space to keep a copy of the old gateway's files for the way back (${need ?? '?'} MB needed, ${free ?? '?'} MB free); nothing was changed`, {
        hint: 'fly volumes extend <volume id> -s <GB>  (fly volumes list shows the id), then clawdfly upgrade again',
        code: 'snapshot-no-space',
      });
    }
    throw error;
  }
  const answer = agentReply<'upgrade-snapshot'>(out);
  const dir = answer ? posix.join(stateDir, answer.snapshot) : undefined;
  if (!answer || !dir || !isSnapshotPath(stateDir, dir)) throw new ClawdflyError(`keeping the old gateway's files in ${stateDir} did not confirm`, { hint: 'clawdfly upgrade again (nothing was deployed)', code: 'snapshot-failed' });
  return { dir, skipped: answer.skipped };
}

/** A path a snapshot can have: straight under the state dir, with mktemp's name. Anything else in releases.json is refused. */
export function isSnapshotPath(stateDir: string, path: string): boolean {
  return posix.dirname(path) === stateDir && new RegExp(`^\\${SNAPSHOT_PREFIX}[A-Za-z0-9]+$`).test(posix.basename(path));
}

/** A path a rollback sets the newer gateway's files aside in. */
export function isAsidePath(stateDir: string, path: string): boolean {
  return posix.dirname(path) === stateDir && new RegExp(`^\\${ASIDE_PREFIX}[A-Za-z0-9]+$`).test(posix.basename(path));
}

/**
 * Removes the newer gateway's files set aside by a rollback (only a path of that shape, never through
 * a link), and `ownEntries` (top-level names only the newer gateway writes) it wrote again meanwhile.
 */
export async function discardAside(fly: FlyClient, stateDir: string, machineId: string, aside: string, ownEntries: string[] = [], holdPath?: string): Promise<void> {
  if (!isAsidePath(stateDir, aside)) throw new ClawdflyError(`${aside} is not a folder clawdfly set aside in ${stateDir}`, { code: 'aside-invalid' });
  await fly.ssh(agentCommand('upgrade-aside-discard', stateDir, { aside: posix.basename(aside), ownEntries, ...(holdPath ? { holdPath } : {}) }), { machineId, input: agentInput() });
}

/** Removes a snapshot (gone already: nothing to do). */
export async function dropSnapshot(fly: FlyClient, stateDir: string, machineId: string, snapshot: string): Promise<void> {
  if (!isSnapshotPath(stateDir, snapshot)) throw new ClawdflyError(`${snapshot} is not a clawdfly snapshot of ${stateDir}`, { code: 'snapshot-invalid', exitCode: 2 });
  await fly.ssh(agentCommand('upgrade-snapshot-drop', stateDir, { snapshot: posix.basename(snapshot) }), { machineId, input: agentInput() });
}

/**
 * Puts the snapshot's entries back; returns where the newer gateway's were set aside. With `hold`,
 * the newer gateway (still running: ssh needs a started machine) is held first, so nothing it writes
 * lands in the files put back; the deploy that follows stops it.
 */
export async function restoreStateSnapshot(fly: FlyClient, stateDir: string, machineId: string, snapshot: string, hold?: GatewayHold): Promise<string> {
  if (!isSnapshotPath(stateDir, snapshot)) throw new ClawdflyError(`${snapshot} is not a clawdfly snapshot of ${stateDir}`, { hint: 'check .clawdfly/releases.json', code: 'snapshot-invalid', exitCode: 2 });
  try {
    const out = await fly.ssh(agentCommand('upgrade-snapshot-restore', stateDir, { snapshot: posix.basename(snapshot), notSnapshotted: NOT_SNAPSHOTTED, ...(hold ? { hold } : {}) }), { machineId, input: agentInput() });
    const aside = agentReply<'upgrade-snapshot-restore'>(out)?.aside;
    return aside ? posix.join(stateDir, aside) : '';
  } catch (error) {
    if (error instanceof FlyRemoteExitError && error.remoteStatus === AGENT_STATUS.missing) {
      throw new ClawdflyError(`the files kept before the upgrade (${snapshot}) are no longer on the volume`, {
        hint: `clawdfly restore <the backup taken before the upgrade, in .clawdfly/backups/>  puts the whole ${stateDir} back`,
        code: 'snapshot-missing',
      });
    }
    throw error;
  }
}
