/** Every doctor check, in the order (the ids are stable: scripts match on them). */
import type { Check } from '../types.js';
import { t, translates, type MessageKey } from '../../i18n/index.js';
import { appCheck, authCheck, flyctlCheck } from './platform.js';
import { authTokenBindCheck, bindCheck, portCheck } from './network.js';
import { memoryCheck } from './memory.js';
import { lockCheck } from './lock.js';
import { configCheck, workspaceCheck } from './config.js';
import { commandDriftCheck, stateDirCheck } from './state.js';
import { secretsCheck } from './secrets.js';
import { crashLoopCheck } from './crash.js';
import { pairingCheck } from './pairing.js';
import { exposureCheck } from './exposure.js';
import { backupCheck } from './backup.js';
import { signalDataCheck } from './signal.js';
import { upgradeCheck } from './upgrade.js';
import { leftoversCheck } from './leftovers.js';
import { readyCheck } from './ready.js';
import { watchdogCheck } from './watchdog.js';
import { offsiteCheck } from './offsite.js';

export const CHECKS: Check[] = [
  flyctlCheck, authCheck, appCheck, bindCheck, portCheck, memoryCheck, lockCheck, configCheck, stateDirCheck,
  commandDriftCheck, secretsCheck, authTokenBindCheck, crashLoopCheck, workspaceCheck, pairingCheck, exposureCheck,
  backupCheck, signalDataCheck, readyCheck, upgradeCheck, leftoversCheck, watchdogCheck, offsiteCheck,
];

/** A check's title in the chosen language (its own English title for a check the catalogs do not know yet). */
export function checkTitle(check: Check): string {
  const key = `doctor.title.${check.id}` as MessageKey;
  return translates(key) ? t(key) : check.title;
}
