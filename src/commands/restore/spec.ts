import { common, defineCommand } from '../types.js';
import { STATE_DIR } from '../../gateway/runtime.js';

export const restoreSpec = defineCommand({
  name: 'restore',
  summary: 'put a backup archive back on the machine: verified, the current state saved first, then the machine restarted',
  args: '[file]',
  options: [
    common.dir,
    { flags: '-a, --app <name>', description: "restore into this app (default: the app in fly.toml); needed when the archive is another app's" },
    common.yes,
    { flags: '--from <source>', description: 'restore an off-site copy instead of a file: remote (the newest) or remote:<name> (clawdfly backup list --remote); it is fetched and decrypted on the machine, then restored like a local archive' },
    { flags: '--force', description: 'restore an archive taken from another gateway runtime' },
    { flags: '--keep-previous', description: `keep the replaced state on the volume as ${STATE_DIR}/.pre-restore-<time>-*/ after the restore` },
    {
      flags: '--no-safety-backup',
      description: `do not save the current state here first (for when the volume's own state is what is broken and cannot be backed up); the replaced state is then kept on the volume as ${STATE_DIR}/.pre-restore-<time>-*/`,
    },
    { flags: '--machine <id>', description: 'machine to restore to (default: the gateway machine)' },
    { flags: '--verify-timeout <seconds>', description: 'how long to wait for the gateway to listen again after the restart (default: 120)', parse: 'int' },
    common.json,
    common.flyctl,
  ],
  examples: [
    'npx clawdfly restore .clawdfly/backups/my-gateway-20261129T031500Z.tar.gz',
    'npx clawdfly restore backup.tar.gz --app my-new-gateway --yes',
    'npx clawdfly restore backup.tar.gz --no-safety-backup',
    'npx clawdfly restore --from remote',
    'npx clawdfly restore --from remote:20261129T031500Z.tar.enc --app my-new-gateway --yes',
  ],
  load: () => import('./index.js'),
});
