import { common, defineCommand } from '../types.js';
import { STATE_DIR } from '../../gateway/runtime.js';

export const backupScheduleSpec = defineCommand({
  name: 'schedule',
  summary: "encrypted off-site copies of the state, every interval, to the app's private Tigris bucket (fly storage create)",
  options: [
    common.dir,
    common.app,
    { flags: '--every <interval>', description: 'how often the machine uploads a copy: 30m, 1h, 6h, 1d (5m to 7d)' },
    { flags: '--off', description: 'stop the uploads (the bucket, its copies and the key are kept)' },
    { flags: '--dry-run', description: 'print every step (flyctl calls, files written; secrets as ***) and change nothing' },
    common.yes,
    common.json,
    common.flyctl,
  ],
  examples: ['npx clawdfly backup schedule --every 1h', 'npx clawdfly backup schedule --every 1h --yes --json', 'npx clawdfly backup schedule --every 6h --dry-run', 'npx clawdfly backup schedule --off'],
  load: () => import('./schedule.js'),
});

export const backupListSpec = defineCommand({
  name: 'list',
  summary: 'list the backups: the local archives in .clawdfly/backups, or (--remote) the off-site copies in the bucket',
  options: [
    common.dir,
    common.app,
    { flags: '--remote', description: "the off-site copies in the app's bucket (read on the machine, which holds the credentials)" },
    { flags: '--machine <id>', description: 'machine to ask (default: the gateway machine)' },
    common.json,
    common.flyctl,
  ],
  examples: ['npx clawdfly backup list', 'npx clawdfly backup list --remote', 'npx clawdfly backup list --remote --json'],
  load: () => import('./list.js'),
});

export const backupSpec = defineCommand({
  name: 'backup',
  summary: `copy the gateway's state (${STATE_DIR}) to a verified local archive in .clawdfly/backups`,
  options: [
    common.dir,
    common.app,
    { flags: '--out <file>', description: 'write the archive here instead of .clawdfly/backups/<app>-<UTC time>.tar.gz (never overwrites)' },
    { flags: '--snapshot', description: 'also create a Fly volume snapshot (fly volumes snapshots create) and record its id' },
    { flags: '--machine <id>', description: 'machine to back up (default: the gateway machine)' },
    common.json,
    common.flyctl,
  ],
  examples: ['npx clawdfly backup', 'npx clawdfly backup --snapshot --json', 'npx clawdfly backup --out ~/gateway-state.tar.gz', 'npx clawdfly backup schedule --every 1h'],
  load: () => import('./index.js'),
  subcommands: [backupScheduleSpec, backupListSpec],
});
