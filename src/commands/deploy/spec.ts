import { common, defineCommand } from '../types.js';

export const deploySpec = defineCommand({
  name: 'deploy',
  summary: 'create the app, volume and secrets on Fly.io, deploy the gateway, and verify it runs',
  options: [
    common.dir,
    common.app,
    common.yes,
    { flags: '--dry-run', description: 'print the plan (every flyctl call, secrets as ***) and change nothing' },
    common.json,
    common.flyctl,
    { flags: '--local-only', description: 'build the image with your local Docker instead of Fly’s remote builder' },
    { flags: '--verify-timeout <seconds>', description: 'how long to wait for the gateway to start listening (default: 120)', env: 'CLAWDFLY_VERIFY_TIMEOUT', parse: 'int' },
    { flags: '--secrets-from-env', description: "CI: take the project's secrets from environment variables of the same names; one that is unset keeps its value on Fly" },
    { flags: '--org <slug>', description: 'Fly organization for a new app (default: your personal one)', env: 'CLAWDFLY_ORG' },
  ],
  examples: ['npx clawdfly deploy', 'npx clawdfly deploy --dry-run', 'npx clawdfly deploy --app my-staging-claw --dry-run', 'npx clawdfly deploy --yes --json --dir my-gateway'],
  load: () => import('./index.js'),
});
