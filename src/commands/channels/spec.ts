import { common, defineCommand } from '../types.js';

export const channelsLoginSpec = defineCommand({
  name: 'login',
  summary: 'log a channel in: whatsapp | signal | telegram | discord',
  args: '<channel>',
  options: [
    common.dir,
    common.app,
    { flags: '--machine <id>', description: 'machine to run on (default: the started gateway machine)' },
    common.json,
    common.flyctl,
  ],
  examples: ['npx clawdfly channels login whatsapp', 'npx clawdfly channels login discord'],
  load: () => import('./index.js'),
});

export const channelsSpec = defineCommand({
  name: 'channels',
  summary: 'connect chat channels (WhatsApp QR login, Signal link, Telegram/Discord token check)',
  subcommands: [channelsLoginSpec],
});
