/** leftovers: remove clawdfly's own folders an interrupted run left on the state dir (each re-checked on the machine). */
import { describeLeftover, unneededLeftovers } from '../checks/leftovers.js';
import { removeLeftovers } from '../remote.js';
import { blocked } from './common.js';
import type { Fix } from './types.js';

export const leftoversFix: Fix = {
  kind: 'leftovers',
  plan(checks, ev) {
    const { project, machine: m } = ev;
    const left = unneededLeftovers(ev);
    if (!m) return blocked(this.kind, checks, 'no machine');
    if (!left.length) return blocked(this.kind, checks, 'nothing to remove');
    return {
      kind: this.kind,
      checks,
      steps: left.map((l) => `remove ${describeLeftover(l)} on ${m.id}, as the owner of ${project.stateDir} (never through a link)`),
      async apply(client, progress) {
        progress(`removing ${left.length} folder(s)`);
        await removeLeftovers(client, project.stateDir, left.map((l) => l.path), m.id);
      },
    };
  },
};
