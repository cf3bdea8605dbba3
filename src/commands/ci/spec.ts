import { common, defineCommand } from '../types.js';

export const ciTokenSpec = defineCommand({
  name: 'token',
  summary: 'create a deploy token for this app (fly tokens create deploy) and pipe it to `gh secret set FLY_API_TOKEN`',
  options: [
    common.dir,
    common.app,
    { flags: '--expiry <duration>', description: 'how long the token is valid, in hours (default: 8760h, one year)', defaultValue: '8760h' },
    { flags: '--repo <owner/name>', description: 'the GitHub repository (default: the one gh finds for the project folder)' },
    { flags: '--print', description: 'print the token on stdout instead (for another secret store); nothing else is printed there' },
    common.json,
    common.flyctl,
  ],
  examples: ['npx clawdfly ci token', 'npx clawdfly ci token --repo me/my-gateway --expiry 720h', 'npx clawdfly ci token --print | vault kv put secret/fly token=-'],
  load: () => import('./token.js'),
});

export const ciSpec = defineCommand({
  name: 'ci',
  summary: 'deploys from CI: create an app-scoped deploy token and store it as the repository secret FLY_API_TOKEN',
  subcommands: [ciTokenSpec],
});
