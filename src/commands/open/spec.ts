import { common, type CommandSpec } from '../types.js';

export const openSpec: CommandSpec = {
  name: 'open',
  summary: 'print (and on a desktop, open) the Control UI URL, and how to log in to it',
  options: [common.dir, common.app, { flags: '--no-browser', description: 'only print the URL, never open a browser' }, common.json],
  examples: ['npx clawdfly open', 'npx clawdfly open --no-browser'],
  load: () => import('./index.js'),
};
