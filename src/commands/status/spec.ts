import { common, defineCommand } from '../types.js';

export const statusSpec = defineCommand({
  name: 'status',
  summary: 'one screen: app, public or private, machine state, region, memory, image and runtime, volume, last restart cause, URL',
  options: [common.dir, common.app, common.json, common.flyctl],
  examples: ['npx clawdfly status', 'npx clawdfly status --json'],
  load: () => import('./index.js'),
});
