import { common, defineCommand } from '../types.js';
import { LEGACY_RUNTIME_ID, findRuntime, MAINTAINED_PACKAGE, resolveRuntimeId, STATE_DIR } from '../../gateway/runtime.js';

// Names come from the runtime table: the frozen seed's package → the maintained one, its newest row.
const FROM = findRuntime(LEGACY_RUNTIME_ID)!.packageName;
const TO = MAINTAINED_PACKAGE;
const NEWEST = resolveRuntimeId(MAINTAINED_PACKAGE)!;

export const upgradeSpec = defineCommand({
  name: 'upgrade',
  summary: `move the live gateway to another runtime (${FROM} → ${TO}, or a newer version): ${STATE_DIR} backed up first, rolled back by itself if the new gateway does not start`,
  options: [
    common.dir,
    common.app,
    { flags: '--to <runtime[@version]>', description: `the runtime row to go to: ${TO}, ${NEWEST}, …, or a published ${TO}@<version> without a row (untested by clawdfly) (default: the newest ${TO})` },
    { flags: '--dry-run', description: 'show the plan (file diffs, the remote steps, what is kept) and change nothing' },
    common.yes,
    { flags: '--verify-timeout <seconds>', description: 'how long the new gateway may take to listen after the deploy (default: 120)', parse: 'int' },
    common.json,
    common.flyctl,
  ],
  examples: ['npx clawdfly upgrade --dry-run', `npx clawdfly upgrade --to ${TO} --yes`, `npx clawdfly upgrade --to ${NEWEST} --yes --json`],
  load: () => import('./index.js'),
});
