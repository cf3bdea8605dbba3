import { common, defineCommand } from '../types.js';

export const tokenSpec = defineCommand({
  name: 'token',
  summary: 'print the gateway token (for the Control UI), copy it, or rotate it',
  options: [
    common.dir,
    common.app,
    { flags: '--copy', description: 'copy it to the clipboard (pbcopy, wl-copy, xclip) instead of printing it' },
    { flags: '--rotate', description: 'make a new token, save it, stage it on Fly and apply it with one machine update' },
    { flags: '--machine <id>', description: 'machine to update with --rotate (default: the gateway machine)' },
    common.yes,
    common.flyctl,
  ],
  examples: ['npx clawdfly token --copy', 'npx clawdfly token --rotate --copy'],
  load: () => import('./index.js'),
});
