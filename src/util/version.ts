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

/**
 * Whether an npm `engines` range admits a version, for the shapes packages write there: `||`
 * alternatives of space-separated comparators (`>=24.16.0 <25 || >=26.1.0`), `>`, `>=`, `<`, `<=`,
 * `=` or a bare version, `^x.y.z`, `~x.y.z`, `x` / `x.y` / `x.y.x` wildcards, and `*`. A range it
 * cannot read is undefined (the caller says so rather than guessing).
 */
export function rangeAdmits(range: string, version: string): boolean | undefined {
  const alternatives = range.trim() === '' ? ['*'] : range.split('||');
  let readable = true;
  for (const alternative of alternatives) {
    const comparators = alternative.trim().replace(/([<>=~^])\s+/g, '$1').split(/\s+/).filter(Boolean);
    const results = comparators.map((c) => comparatorAdmits(c, version));
    if (results.some((r) => r === undefined)) {
      readable = false;
      continue;
    }
    if (results.every(Boolean)) return true;
  }
  return readable ? false : undefined;
}

const PARTIAL = /^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(-[0-9A-Za-z.-]+)?$/;

function comparatorAdmits(comparator: string, version: string): boolean | undefined {
  if (comparator === '*' || comparator === 'x' || comparator === 'X') return true;
  const m = /^(>=|<=|>|<|=|\^|~)?(.+)$/.exec(comparator);
  const parts = m ? PARTIAL.exec(m[2]!) : null;
  if (!m || !parts) return undefined;
  const op = m[1] ?? '=';
  const wild = (p: string | undefined) => p === undefined || /^[xX*]$/.test(p);
  const [major, minor, patch] = [parts[1], parts[2], parts[3]];
  if (wild(major)) return true;
  const lower = `${major}.${wild(minor) ? 0 : minor}.${wild(patch) ? 0 : patch}${parts[4] ?? ''}`;
  // the first version past a partial one (`24` → 25.0.0, `24.16` → 24.17.0) for `=`, `<=`, `>` and wildcards
  const pastPartial = wild(minor) ? `${Number(major) + 1}.0.0` : wild(patch) ? `${major}.${Number(minor) + 1}.0` : undefined;
  const cmp = (a: string, b: string) => compareVersions(version, a) >= 0 && (b === '' || compareVersions(version, b) < 0);
  switch (op) {
    case '>=':
      return compareVersions(version, lower) >= 0;
    case '>':
      return compareVersions(version, pastPartial ?? lower) >= (pastPartial ? 0 : 1);
    case '<':
      return compareVersions(version, lower) < 0;
    case '<=':
      return pastPartial ? compareVersions(version, pastPartial) < 0 : compareVersions(version, lower) <= 0;
    case '=':
      return pastPartial ? cmp(lower, pastPartial) : compareVersions(version, lower) === 0;
    case '^': {
      const upper = Number(major) > 0 || wild(minor) ? `${Number(major) + 1}.0.0` : Number(minor) > 0 || wild(patch) ? `0.${Number(minor) + 1}.0` : `0.0.${Number(patch) + 1}`;
      return cmp(lower, upper);
    }
    case '~':
      return cmp(lower, wild(minor) ? `${Number(major) + 1}.0.0` : `${major}.${Number(minor) + 1}.0`);
  }
  return undefined;
}
