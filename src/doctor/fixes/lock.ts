/** lock: remove the lock files whose owner is provably gone, then restart the machine. */
import { removeStaleLocks, staleReason } from '../remote.js';
import { blocked } from './common.js';
import type { Fix } from './types.js';

export const lockFix: Fix = {
  kind: 'lock',
  plan(checks, ev) {
    const { project, machine: m } = ev;
    const facts = ev.remote?.value;
    const stale = (facts?.locks ?? []).filter((l) => staleReason(l)).map((l) => l.path);
    if (!m) return blocked(this.kind, checks, 'no machine');
    return {
      kind: this.kind,
      checks,
      steps: [
        ...(stale.length ? [`remove ${stale.join(', ')} on ${m.id} (each owner re-checked dead at delete time)`] : []),
        `fly machine restart ${m.id} -a ${project.app}`,
      ],
      async apply(client, progress) {
        if (stale.length) {
          progress('removing stale locks');
          await removeStaleLocks(client, project.runtime, project.stateDir, facts!.lockBases, stale, m.id);
        }
        progress(`restarting ${m.id}`);
        await client.restartMachine(m.id);
      },
    };
  },
};
