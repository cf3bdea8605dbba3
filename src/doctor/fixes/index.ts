/**
 * `doctor --fix`: one fix per kind of repair (a module each, like ../checks/), its plan shown
 * before it runs. Repairs that the next `fly deploy` would undo on the machine go through fly.toml
 * and a redeploy; memory is changed on the machine AND in fly.toml; locks are removed only when
 * their owner is provably gone.
 */
import type { CheckId, Evidence, FixKind } from '../types.js';
import type { Fix, FixPlan } from './types.js';
import { lockFix } from './lock.js';
import { memoryFix } from './memory.js';
import { secretsFix } from './secrets.js';
import { redeployFix } from './redeploy.js';
import { startFix } from './start.js';
import { configPushFix } from './config-push.js';
import { pairingFix } from './pairing.js';
import { leftoversFix } from './leftovers.js';

export type { Fix, FixPlan } from './types.js';

/**
 * Every fix by kind, in the order repairs run: cheap and local first, redeploy before pushes that
 * need a started machine. `satisfies` makes a FixKind without a fix a compile error.
 */
const FIXES = {
  lock: lockFix,
  memory: memoryFix,
  secrets: secretsFix,
  redeploy: redeployFix,
  start: startFix,
  'config-push': configPushFix,
  pairing: pairingFix,
  leftovers: leftoversFix,
} as const satisfies Record<FixKind, Fix>;

export const FIX_ORDER = Object.keys(FIXES) as FixKind[];

export function planFix(kind: FixKind, checks: CheckId[], ev: Evidence): FixPlan {
  return FIXES[kind].plan(checks, ev);
}
