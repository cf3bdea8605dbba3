import { common, defineCommand } from '../types.js';
import { STATE_DIR } from '../../gateway/runtime.js';

export const rollbackSpec = defineCommand({
  name: 'rollback',
  summary: `go back to an earlier release: its image (no rebuild), its project files and its gateway config, ${STATE_DIR} backed up first`,
  options: [
    common.dir,
    common.app,
    { flags: '--to <version>', description: 'the release to go back to, e.g. v3 (default: the one before the current one; see clawdfly status)' },
    { flags: '--dry-run', description: 'show the plan (image, file diff, remote config) and change nothing' },
    common.yes,
    { flags: '--verify-timeout <seconds>', description: 'how long the gateway may take to listen after the deploy (default: 120)', parse: 'int' },
    common.json,
    common.flyctl,
  ],
  examples: ['npx clawdfly rollback --dry-run', 'npx clawdfly rollback --yes', 'npx clawdfly rollback --to v3 --yes --json'],
  load: () => import('./index.js'),
});
