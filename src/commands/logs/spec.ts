import { common, defineCommand } from '../types.js';

export const logsSpec = defineCommand({
  name: 'logs',
  summary: "the gateway's recent log lines (or --follow), with listening/error/OOM/lock lines marked",
  options: [
    common.dir,
    common.app,
    { flags: '--since <duration>', description: 'only lines newer than this: 10m, 2h, 1d, or an ISO time' },
    { flags: '-f, --follow', description: 'keep printing new lines until Ctrl-C' },
    { flags: '--machine <id>', description: 'only this machine' },
    common.json,
    common.flyctl,
  ],
  examples: ['npx clawdfly logs', 'npx clawdfly logs --since 30m', 'npx clawdfly logs --follow'],
  load: () => import('./index.js'),
});
