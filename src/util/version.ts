import { readFileSync } from 'node:fs';
import { assetPath } from './assets.js';

let cached: string | undefined;

/** clawdfly's own version, from package.json. */
export function clawdflyVersion(): string {
  cached ??= (JSON.parse(readFileSync(assetPath('package.json'), 'utf8')) as { version: string }).version;
  return cached;
}

/** Compares dotted numeric versions ("0.4.80" vs "0.4.87"); pre-release suffixes are ignored. */
export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split(/[.+-]/).slice(0, 3).map(Number);
  const pb = b.replace(/^v/, '').split(/[.+-]/).slice(0, 3).map(Number);
  for (let i = 0; i < 3; i++) {
    const diff = (pa[i] || 0) - (pb[i] || 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
