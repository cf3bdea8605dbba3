import { common, defineCommand } from '../types.js';

export const upgradeSpec = defineCommand({
  name: 'upgrade',
  summary: 'move the live gateway to another runtime (clawdbot → openclaw, or a newer version): /data backed up first, rolled back by itself if the new gateway does not start',
  options: [
    common.dir,
    common.app,
    { flags: '--to <runtime[@version]>', description: 'the runtime row to go to: openclaw, openclaw@2026.9.6, … (default: the newest openclaw)' },
    { flags: '--dry-run', description: 'show the plan (file diffs, the remote steps, what is kept) and change nothing' },
    common.yes,
    { flags: '--verify-timeout <seconds>', description: 'how long the new gateway may take to listen after the deploy (default: 120)', parse: 'int' },
    common.json,
    common.flyctl,
  ],
  examples: ['npx clawdfly upgrade --dry-run', 'npx clawdfly upgrade --to openclaw --yes', 'npx clawdfly upgrade --to openclaw@2026.9.6 --yes --json'],
  load: () => import('./index.js'),
});
