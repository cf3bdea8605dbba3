import { common, defineCommand } from '../types.js';

export const doctorSpec = defineCommand({
  name: 'doctor',
  summary: 'diagnose the deployment from live evidence (config, exit events, logs, files on the volume); --fix repairs it',
  options: [
    common.dir,
    common.app,
    { flags: '--offline', description: 'static checks of the local files only (fly.toml ↔ gateway config ↔ runtime); no flyctl call' },
    { flags: '--fix', description: 'apply the fix of each failing check (shown first; asks unless --yes), then re-check it' },
    common.yes,
    common.json,
    common.flyctl,
    { flags: '--logs-timeout <seconds>', description: 'give up on `fly logs --no-tail` after this long (it hangs on an empty log buffer)', env: 'CLAWDFLY_LOGS_TIMEOUT', parse: 'int', hidden: true },
  ],
  examples: ['npx clawdfly doctor', 'npx clawdfly doctor --fix', 'npx clawdfly doctor --offline', 'npx clawdfly doctor --json | jq \'.checks[] | select(.status=="fail")\''],
  load: () => import('./index.js'),
});
