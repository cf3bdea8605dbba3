/** pairing: approve the pending device pairing requests, as the gateway user. */
import { GATEWAY_USER } from '../../gateway/runtime.js';
import { devicesArgv } from '../evidence.js';
import { blocked } from './common.js';
import type { Fix } from './types.js';

export const pairingFix: Fix = {
  kind: 'pairing',
  plan(checks, ev) {
    const { project, machine: m } = ev;
    const pending = ev.devices?.value?.pending ?? [];
    if (!m || !pending.length) return blocked(this.kind, checks, 'no pending pairing request');
    return {
      kind: this.kind,
      checks,
      steps: pending.map((p) => `approve device pairing request ${p.requestId}${p.client ? ` (${p.client})` : ''}`),
      async apply(client, progress) {
        for (const p of pending) {
          progress(`approving ${p.requestId}`);
          await client.ssh(devicesArgv(project, m, ['approve', p.requestId]), { machineId: m.id, user: GATEWAY_USER });
        }
      },
    };
  },
};
