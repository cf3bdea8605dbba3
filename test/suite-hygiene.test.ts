/**
 * Two rules of the suite, checked over every file under test/ (issue 32):
 * - a test reads nothing outside the checkout: no path into the sibling `shared/` evidence folder
 *   and none above the repository root (fixtures are copied into test/fixtures/ with a note);
 * - no wall-clock assertion (an upper bound such as 40 s on a measured duration): timings belong in
 *   `npm run bench`, as ratios measured side by side.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

const CODE = /\.(ts|mts|cts|js|mjs|cjs)$/;

function codeFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : codeFiles(full);
    return CODE.test(entry.name) ? [full] : [];
  });
}

/** Lines of code (comments may name where a fixture came from). */
function codeLines(file: string): [number, string][] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line, i): [number, string] => [i + 1, line])
    .filter(([, line]) => !/^\s*(\/\/|\*|\/\*)/.test(line));
}

/** Patterns, built from parts so this file does not match itself. */
const OUTSIDE = [new RegExp(['\\.\\.', 'shared'].join('[\\\\/]')), new RegExp(['', 'work', 'shared'].join('/')), new RegExp(`['"]\\.\\.['"]\\s*,\\s*['"]${'shared'}['"]`), /ROOT\s*,\s*['"]\.\.['"]/];
const TIMED_LITERAL = new RegExp(['toBeLessThan', '\\(', '[0-9_]{4,}', '\\)'].join(''));
/** An upper bound on anything named as a duration: `stop.seconds`, `r.elapsedMs`, `bootMs`. */
const TIMED_NAME = new RegExp(['(seconds|Seconds|[a-z]Ms|elapsed\\w*)\\)', '\\.toBeLessThan'].join(''));
const TIMED = { test: (line: string) => TIMED_LITERAL.test(line) || TIMED_NAME.test(line) };

/** This file holds the patterns and their positive controls; every other file is scanned. */
const SELF = join(ROOT, 'test', 'suite-hygiene.test.ts');
const all = codeFiles(join(ROOT, 'test'));
const files = all.filter((f) => f !== SELF);

describe('suite hygiene', () => {
  it('finds the test files (the scan is not empty)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(all).toContain(SELF);
    expect(files.map((f) => relative(ROOT, f))).toContain(join('test', 'deploy', 'plan-table.test.ts'));
  });

  it('no test reads outside the checkout (../shared, /work/shared, above the root)', () => {
    const hits = files.flatMap((file) => codeLines(file).filter(([, line]) => OUTSIDE.some((p) => p.test(line))).map(([n, line]) => `${relative(ROOT, file)}:${n}: ${line.trim()}`));
    expect(hits).toEqual([]);
  });

  it('no timing assertion on a wall clock (toBeLessThan of a 4+ digit number, or of a duration)', () => {
    const hits = files.flatMap((file) => codeLines(file).filter(([, line]) => TIMED.test(line)).map(([n, line]) => `${relative(ROOT, file)}:${n}: ${line.trim()}`));
    expect(hits).toEqual([]);
  });

  it('the patterns catch what they are for (positive controls)', () => {
    // The samples are put together from parts, so this file's own text holds none of what it forbids
    // (a plain grep of the suite for either rule would otherwise land here).
    const shared = 'sha' + 'red';
    const sample = [
      `readFileSync(join(ROOT, '..', '${shared}', 'fixtures', 'x.log'))`,
      `readFileSync('../${shared}/fixtures/x.log')`,
      `expect(result.ms).toBeLessThan(${'40'}_000)`,
    ];
    expect(OUTSIDE.some((p) => p.test(sample[0]!))).toBe(true);
    expect(OUTSIDE.some((p) => p.test(sample[1]!))).toBe(true);
    expect(TIMED.test(sample[2]!)).toBe(true);
    expect(TIMED.test('expect(a.indexOf(x)).toBeLessThan(b.indexOf(y))')).toBe(false);
    expect(TIMED.test('expect(stop.seconds).toBeLessThan(8)')).toBe(true);
    expect(TIMED.test('expect(version.elapsedMs).toBeLessThan(latency)')).toBe(true);
    expect(TIMED.test('expect(bootMs).toBeLessThanOrEqual(900)')).toBe(true);
    expect(TIMED.test('expect(read.peakMb).toBeLessThan(150)')).toBe(false);
  });
});
