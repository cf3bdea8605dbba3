/** Finding flyctl: --flyctl, CLAWDFLY_FLYCTL, `flyctl` then `fly` on PATH, then ~/.fly/bin/flyctl. */
import { accessSync, constants, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { FlyctlMissingError } from './errors.js';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, pathVar = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export const INSTALL_HINT = 'install flyctl: curl -L https://fly.io/install.sh | sh  (or brew install flyctl), or pass --flyctl PATH';

export function locateFlyctl(explicit?: string): string {
  const given = explicit ?? process.env['CLAWDFLY_FLYCTL'];
  if (given) {
    if (!isExecutable(given)) throw new FlyctlMissingError(`flyctl not found at ${given}`, INSTALL_HINT, 'flyctl-missing');
    return given;
  }
  const found = onPath('flyctl') ?? onPath('fly') ?? [join(homedir(), '.fly', 'bin', 'flyctl')].find(isExecutable);
  if (!found) throw new FlyctlMissingError('flyctl is not installed (looked for flyctl and fly on PATH, and ~/.fly/bin/flyctl)', INSTALL_HINT, 'flyctl-missing');
  return found;
}
