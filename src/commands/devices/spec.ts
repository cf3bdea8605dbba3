import { common, defineCommand } from '../types.js';

export const devicesSpec = defineCommand({
  name: 'devices',
  summary: 'list browser/device pairing requests on the gateway, approve or reject them',
  args: '[action] [requestId]',
  options: [
    common.dir,
    common.app,
    { flags: '--latest', description: 'with approve: the newest pending request' },
    { flags: '--machine <id>', description: 'machine to run on (default: the started gateway machine)' },
    common.json,
    common.flyctl,
  ],
  examples: ['npx clawdfly devices', 'npx clawdfly devices approve --latest', 'npx clawdfly devices approve 3f1c…', 'npx clawdfly devices reject 3f1c…'],
  load: () => import('./index.js'),
});
