import { common, defineCommand } from '../types.js';

export const openSpec = defineCommand({
  name: 'open',
  summary: 'open the Control UI (a private app: through a fly proxy tunnel until Ctrl-C) and say how to log in',
  options: [
    common.dir,
    common.app,
    { flags: '--no-browser', description: 'only print the URL, never open a browser' },
    { flags: '--port <port>', description: 'private apps: the local end of the tunnel (default: 18789; keep it the same so the browser stays paired)', parse: 'int' },
    common.json,
    common.flyctl,
  ],
  examples: ['npx clawdfly open', 'npx clawdfly open --no-browser', 'npx clawdfly open --port 18790'],
  load: () => import('./index.js'),
});
