import { STATE_DIR } from '../../gateway/runtime.js';
import { common, defineCommand } from '../types.js';

export const sshSpec = defineCommand({
  name: 'ssh',
  summary: "a shell on the gateway's machine (or run one command there)",
  args: '[command...]',
  options: [
    common.dir,
    common.app,
    { flags: '--machine <id>', description: 'machine to connect to (default: the started gateway machine)' },
    { flags: '--pty', description: 'allocate a terminal for the command (for interactive programs)' },
    common.flyctl,
  ],
  examples: ['npx clawdfly ssh', `npx clawdfly ssh -- ls -la ${STATE_DIR}`],
  load: () => import('./index.js'),
});
