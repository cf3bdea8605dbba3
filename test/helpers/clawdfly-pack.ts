/**
 * This checkout as npm would publish it: `npm pack` (no scripts: dist/ is built already), once per
 * test process. Its integrity is what a workflow pins with `--clawdfly-spec <url>#<integrity>`.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, tempDir } from './cli.js';

export interface PackedClawdfly {
  file: string;
  version: string;
  integrity: string;
}

let packed: PackedClawdfly | undefined;

export function packedClawdfly(): PackedClawdfly {
  if (packed) return packed;
  const dir = tempDir('clawdfly-pack-');
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [info] = JSON.parse(out) as { filename: string; version: string; integrity: string }[];
  packed = { file: join(dir, info!.filename), version: info!.version, integrity: info!.integrity };
  return packed;
}

/** `--clawdfly-spec` for tests that read the workflow but never install from it: this checkout's real integrity, at a URL nobody serves. */
export function ciSpecFlags(): string[] {
  const p = packedClawdfly();
  return ['--clawdfly-spec', `https://clawdfly.invalid/clawdfly-${p.version}.tgz#${p.integrity}`];
}
