import { common, type CommandSpec } from '../types.js';

export const channelsSpec: CommandSpec = {
  name: 'channels',
  summary: 'connect chat channels (WhatsApp QR login, Signal link, Telegram/Discord token check)',
  subcommands: [
    {
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
    },
  ],
};
