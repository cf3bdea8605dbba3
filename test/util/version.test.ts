/**
 * compareVersions orders gateway releases ("newest row" is the highest version), flyctl and Node
 * versions: four numeric parts, clawdbot's `-N` fix releases after their base, npm pre-releases before.
 */
import { describe, expect, it } from 'vitest';
import { compareVersions } from '../../src/util/version.js';

const sign = (n: number) => Math.sign(n);

describe('compareVersions', () => {
  it.each([
    // [a, b, expected sign of compareVersions(a, b)]
    ['2026.1.24-3', '2026.1.24-4', -1],
    ['2026.1.24-4', '2026.1.24-3', 1],
    ['2026.1.24-3', '2026.1.24-3', 0],
    ['2026.1.24', '2026.1.24-3', -1],
    ['2026.1.24-3', '2026.1.25', -1],
    ['2026.1.24-10', '2026.1.24-9', 1],
    ['2026.9.5', '2026.9.6', -1],
    ['2026.9.6', '2026.9.6', 0],
    ['2026.10.1', '2026.9.6', 1],
    ['2026.1.24-3', '2026.9.6', -1],
    ['2026.8.1-beta.3', '2026.8.1', -1],
    ['2026.8.1-beta.2', '2026.8.1-beta.10', -1],
    ['2026.8.1-beta.3', '2026.8.1-rc.1', -1],
    ['2026.8.1-beta', '2026.8.1-beta.1', -1],
    ['2026.8.1-beta.1', '2026.7.35', 1],
    ['0.4.80', '0.4.87', -1],
    ['v24.22.3', '24.16.0', 1],
    ['24.16.0', 'v24.16.0', 0],
    ['0.3.200', '0.3.45', 1],
    ['22', '22.12.0', -1],
    ['1.2.3+build.7', '1.2.3', 0],
  ] as const)('%s vs %s → %i', (a, b, expected) => {
    expect(sign(compareVersions(a, b))).toBe(expected);
    expect(sign(compareVersions(b, a))).toBe(-expected || 0);
  });

  it('sorts a release list to the highest last', () => {
    const list = ['2026.9.6', '2026.1.24-3', '2026.8.1-beta.1', '2026.9.1', '2026.1.24-4', '2026.8.1', '2026.1.24'];
    expect([...list].sort(compareVersions)).toEqual(['2026.1.24', '2026.1.24-3', '2026.1.24-4', '2026.8.1-beta.1', '2026.8.1', '2026.9.1', '2026.9.6']);
  });
});
