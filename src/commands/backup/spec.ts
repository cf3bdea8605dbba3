import { common, defineCommand } from '../types.js';
import { STATE_DIR } from '../../gateway/runtime.js';

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
  examples: ['npx clawdfly backup', 'npx clawdfly backup --snapshot --json', 'npx clawdfly backup --out ~/gateway-state.tar.gz'],
  load: () => import('./index.js'),
});
