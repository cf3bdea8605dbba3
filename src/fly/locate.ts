/** Finding flyctl: --flyctl, CLAWDFLY_FLYCTL, `flyctl` then `fly` on PATH, then ~/.fly/bin/flyctl. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { findOnPath, isExecutableFile } from '../util/find-on-path.js';
import { FlyctlMissingError } from './errors.js';

export const INSTALL_HINT = 'install flyctl: curl -L https://fly.io/install.sh | sh  (or brew install flyctl), or pass --flyctl PATH';

export function locateFlyctl(explicit?: string): string {
  const given = explicit ?? process.env['CLAWDFLY_FLYCTL'];
  if (given) {
    if (!isExecutableFile(given)) throw new FlyctlMissingError(`flyctl not found at ${given}`, INSTALL_HINT, 'flyctl-missing');
    return given;
  }
  const found = findOnPath('flyctl') ?? findOnPath('fly') ?? [join(homedir(), '.fly', 'bin', 'flyctl')].find(isExecutableFile);
  if (!found) throw new FlyctlMissingError('flyctl is not installed (looked for flyctl and fly on PATH, and ~/.fly/bin/flyctl)', INSTALL_HINT, 'flyctl-missing');
  return found;
}
