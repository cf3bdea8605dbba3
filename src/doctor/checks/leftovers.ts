/**
 * leftovers: folders clawdfly made on the state dir and did not remove — a restore's replaced state
 * (`.pre-restore-*`) or its stage (`.clawdfly-restore-*`), an upgrade's copy of the old gateway's
 * files (`.clawdfly-pre-upgrade-*`) that no recorded release needs any more, a rollback's aside folder
 * (`.clawdfly-post-upgrade-*`) — left by an interrupted run. Backups leave them out; they only take
 * space on the volume. `doctor --fix` removes them after listing them. Also a restore that was
 * stopped before clawdfly confirmed it (`.clawdfly-restore.json`): what the machine's next boot does.
 */
import { formatBytes } from '../../backup/archive.js';
import type { RemoteLeftover } from '../remote.js';
import type { Check, CheckResult, Evidence } from '../types.js';
import { missing } from './common.js';

/** The leftovers, less the snapshots a recorded release (or an upgrade in progress) still goes back to. */
export function unneededLeftovers(ev: Evidence): RemoteLeftover[] {
  const needed = new Set(ev.neededSnapshots ?? []);
  return (ev.remote?.value?.leftovers ?? []).filter((l) => !needed.has(l.path));
}

export function describeLeftover(l: RemoteLeftover): string {
  const size = l.kb !== undefined ? formatBytes(l.kb * 1024) : 'size unknown';
  const when = l.mtime !== undefined ? `, from ${new Date(l.mtime * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';
  // the name was checked against clawdfly's own shapes (doctor/remote.ts): no control character in it
  return `${l.path} (${size}${when})`;
}

export const leftoversCheck: Check = {
  id: 'leftovers',
  title: "no clawdfly work folders left on the volume",
  run(ev) {
    const skip = missing(ev, ev.remote, 'the state dir');
    if (skip) return skip;
    const left = unneededLeftovers(ev);
    const marker = ev.remote?.value?.restoreMarker;
    if (marker) return unfinishedRestore(marker, left);
    if (!left.length) return { status: 'ok', summary: 'none' };
    const kb = left.reduce((n, l) => n + (l.kb ?? 0), 0);
    return {
      status: 'warn',
      summary: `${left.length} folder(s) an interrupted restore or upgrade left on ${ev.project.stateDir} (${formatBytes(kb * 1024)}; backups leave them out)`,
      evidence: left.map(describeLeftover),
      fix: 'clawdfly doctor --fix  (lists them, then removes them)',
    };
  },
  fixKind: (ev) => (unneededLeftovers(ev).length ? 'leftovers' : undefined),
  fixesWarning: true,
};

/** What a restore stopped half-way means, from the marker's state (see applyStagedRestore in prepare-data.mjs). */
function unfinishedRestore(marker: { path: string; state: string }, left: RemoteLeftover[]): CheckResult {
  const said: Record<string, string> = {
    staged: 'a restore is staged and its restart never came: a boot within 10 minutes of the staging applies it, a later one discards it',
    applied: 'a restore was applied at boot and never confirmed: a boot within 10 minutes puts the previous state back, a later one keeps the restored state',
    reverted: 'a restore was undone by the machine (the gateway did not start on it): the previous state runs again, the restored one is in /data/.failed-restore-*',
    failed: 'a restore could not be applied at boot: the state was left as it was',
  };
  return {
    status: 'warn',
    summary: said[marker.state] ?? `a restore marker in an unknown state (${marker.state})`,
    evidence: [marker.path, ...left.map(describeLeftover)],
    fix: `clawdfly restore <file> --yes  (again; it replaces the marker), or once the gateway is fine: clawdfly ssh -- rm ${marker.path}  then clawdfly doctor --fix (removes the folders)`,
  };
}

