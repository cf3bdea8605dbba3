/**
 * Every command clawdfly has, as data. Importing this file loads no command implementation:
 * each `load` is a dynamic import, so `clawdfly --help` stays cheap.
 */
import type { CommandSpec } from './types.js';
import { initSpec } from './init/spec.js';

export const COMMANDS: CommandSpec[] = [initSpec];
