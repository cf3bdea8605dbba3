/** start: a stopped machine is started (nothing else changes). */
import { blocked } from './common.js';
import type { Fix } from './types.js';

export const startFix: Fix = {
  kind: 'start',
  plan(checks, ev) {
    const { project, machine: m } = ev;
    if (!m) return blocked(this.kind, checks, 'no machine');
    return {
      kind: this.kind,
      checks,
      steps: [`fly machine start ${m.id} -a ${project.app}`],
      async apply(client) {
        await client.startMachine(m.id);
      },
    };
  },
};
