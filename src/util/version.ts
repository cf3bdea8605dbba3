import { readFileSync } from 'node:fs';
import { assetPath } from './assets.js';

let cached: string | undefined;

/** clawdfly's own version, from package.json. */
export function clawdflyVersion(): string {
  cached ??= (JSON.parse(readFileSync(assetPath('package.json'), 'utf8')) as { version: string }).version;
  return cached;
}

/**
 * A version as four numbers and a pre-release tag: `2026.1.24-3` is 2026, 1, 24, 3 (the `-N` of a
 * release after 2026.1.24, as clawdbot numbered its fixes), `0.4.87` is 0, 4, 87, 0, and
 * `2026.8.1-beta.2` is 2026, 8, 1, 0 with the tag `beta.2` (before 2026.8.1 itself).
 */
function versionKey(version: string): { numbers: number[]; preRelease?: string } {
  const [core = '', ...rest] = version.trim().replace(/^v/, '').split('+')[0]!.split('-');
  const suffix = rest.join('-');
  const numbers = core.split('.').slice(0, 3).map((n) => Number.parseInt(n, 10) || 0);
  while (numbers.length < 3) numbers.push(0);
  if (/^\d+$/.test(suffix)) return { numbers: [...numbers, Number(suffix)] };
  return { numbers: [...numbers, 0], ...(suffix ? { preRelease: suffix } : {}) };
}

/** Dotted pre-release tags compared part by part, numbers as numbers (`beta.2` < `beta.10` < `rc.1`). */
function comparePreRelease(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    const nx = /^\d+$/.test(x) ? Number(x) : undefined;
    const ny = /^\d+$/.test(y) ? Number(y) : undefined;
    if (nx !== undefined && ny !== undefined) {
      if (nx !== ny) return nx - ny;
    } else if (nx !== undefined || ny !== undefined) return nx !== undefined ? -1 : 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Compares versions: negative when a is older, 0 when equal, positive when newer. Four numeric parts
 * (`0.4.80` < `0.4.87`, `2026.1.24` < `2026.1.24-3` < `2026.1.24-4` < `2026.1.25`); a tag that is not
 * a number is a pre-release, older than its release (`2026.8.1-beta.3` < `2026.8.1`). A leading `v`
 * and build metadata (`+…`) are ignored.
 */
export function compareVersions(a: string, b: string): number {
  const ka = versionKey(a);
  const kb = versionKey(b);
  for (let i = 0; i < 4; i++) {
    const diff = ka.numbers[i]! - kb.numbers[i]!;
    if (diff !== 0) return diff;
  }
  if (ka.preRelease === undefined || kb.preRelease === undefined) {
    if (ka.preRelease === kb.preRelease) return 0;
    return ka.preRelease === undefined ? 1 : -1;
  }
  return comparePreRelease(ka.preRelease, kb.preRelease);
}
