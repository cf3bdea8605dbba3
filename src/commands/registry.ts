/**
 * Every command clawdfly has, as data. Importing this file loads no command implementation:
 * each `load` is a dynamic import, so `clawdfly --help` stays cheap.
 */
import type { CommandSpec } from './types.js';
import { initSpec } from './init/spec.js';
import { deploySpec } from './deploy/spec.js';
import { configSpec } from './config/spec.js';
import { doctorSpec } from './doctor/spec.js';
import { openSpec } from './open/spec.js';
import { tokenSpec } from './token/spec.js';
import { devicesSpec } from './devices/spec.js';
import { channelsSpec } from './channels/spec.js';
import { logsSpec } from './logs/spec.js';
import { statusSpec } from './status/spec.js';
import { sshSpec } from './ssh/spec.js';
import { upSpec } from './up/spec.js';
import { ciSpec } from './ci/spec.js';
import { backupSpec } from './backup/spec.js';
import { restoreSpec } from './restore/spec.js';
import { rollbackSpec } from './rollback/spec.js';
import { upgradeSpec } from './upgrade/spec.js';

export const COMMANDS: CommandSpec[] = [initSpec, deploySpec, configSpec, doctorSpec, openSpec, tokenSpec, devicesSpec, channelsSpec, logsSpec, statusSpec, sshSpec, upSpec, backupSpec, restoreSpec, rollbackSpec, upgradeSpec, ciSpec];
