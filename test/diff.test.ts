/** unifiedDiff against GNU diff -u on the same files: the hunks must be the same, byte for byte. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unifiedDiff } from '../src/util/diff.js';
import { tempDir } from './helpers/cli.js';

const numbered = (n: number, change: (i: number) => string | undefined = () => undefined) =>
  Array.from({ length: n }, (_, i) => change(i + 1) ?? `line ${i + 1}`).join('\n') + '\n';

const CASES: Array<[string, string, string]> = [
  ['one line changed', 'a\nb\nc\n', 'a\nB\nc\n'],
  ['a new file', '', 'x\ny\n'],
  ['everything removed', 'x\ny\n', ''],
  ['two hunks', numbered(30), numbered(30, (i) => (i === 3 ? 'three' : i === 25 ? 'twenty-five' : undefined))],
  ['hunks that merge', numbered(12), numbered(12, (i) => (i === 3 ? 'X' : i === 9 ? 'Y' : undefined))],
  ['fly.toml', 'app = "a"\nprimary_region = "iad"\n\n[env]\n  X = "1"\n', 'app = "a"\nprimary_region = "lhr"\n\n[env]\n  X = "1"\n  Y = "2"\n'],
  ['lines moved', numbered(8), 'line 5\n' + numbered(8).replace('line 5\n', '')],
];

function gnuDiff(before: string, after: string): string {
  const dir = tempDir('clawdfly-diff-');
  writeFileSync(join(dir, 'a'), before);
  writeFileSync(join(dir, 'b'), after);
  const r = spawnSync('diff', ['-U3', '--label', 'from', '--label', 'to', join(dir, 'a'), join(dir, 'b')], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(1); // 1: the files differ
  return r.stdout;
}

describe('unifiedDiff', () => {
  it.each(CASES)('%s: the same as GNU diff -u', (_name, before, after) => {
    expect(unifiedDiff(before, after, { from: 'from', to: 'to' })).toBe(gnuDiff(before, after));
  });

  it('says nothing for equal texts, and summarises a file too long to review', () => {
    expect(unifiedDiff('same\n', 'same\n', { from: 'a', to: 'b' })).toBe('');
    expect(unifiedDiff(numbered(2500), numbered(2500, (i) => (i === 7 ? 'x' : undefined)), { from: 'a', to: 'b' })).toBe('--- a\n+++ b\n(2501 lines differ; too long to show)\n');
  });
});
