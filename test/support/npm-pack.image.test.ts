/**
 * The image set-up packs Node and npm at once (`Promise.all` in ensureBaseImage). From an empty npm
 * cache both packs are slow enough to overlap, and a temp folder named from the pid and the clock was
 * shared by the two: the first to finish removed it under the other (ENOENT, a red cold CI).
 * The clock is frozen here, so a name built from it collides every round instead of one in six.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { npmPackCached, uniqueTempName } from './util.js';

const PACKAGES = [
  { spec: 'is-number@7.0.0', prefix: 'is-number-', file: 'is-number-7.0.0.tgz' },
  { spec: 'is-odd@3.0.1', prefix: 'is-odd-', file: 'is-odd-3.0.1.tgz' },
  { spec: 'left-pad@1.3.0', prefix: 'left-pad-', file: 'left-pad-1.3.0.tgz' },
];

const saved = { cache: process.env.CLAWDFLY_TEST_CACHE, npmCache: process.env.npm_config_cache };
const made: string[] = [];

afterEach(() => {
  vi.restoreAllMocks();
  process.env.CLAWDFLY_TEST_CACHE = saved.cache;
  process.env.npm_config_cache = saved.npmCache;
  if (saved.cache === undefined) delete process.env.CLAWDFLY_TEST_CACHE;
  if (saved.npmCache === undefined) delete process.env.npm_config_cache;
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('npmPackCached from an empty npm cache', () => {
  it('packs several packages at once in the same millisecond, round after round', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_796_589_762_046);
    for (let round = 0; round < 4; round++) {
      const testCache = mkdtempSync(join(tmpdir(), 'clawdfly-pack-cache-'));
      const npmCache = mkdtempSync(join(tmpdir(), 'clawdfly-npm-cache-'));
      made.push(testCache, npmCache);
      process.env.CLAWDFLY_TEST_CACHE = testCache;
      process.env.npm_config_cache = npmCache;

      const paths = await Promise.all(PACKAGES.map((p) => npmPackCached(p.spec, p.prefix)));

      expect(paths.map((p) => basename(p))).toEqual(PACKAGES.map((p) => p.file));
      // Each tarball landed, and no temp folder was left behind.
      expect(readdirSync(join(testCache, 'npm-pack')).sort()).toEqual(PACKAGES.map((p) => p.file).sort());
    }
  }, 180_000);

  it('gives every caller its own sibling temp name', () => {
    const names = new Set(Array.from({ length: 1000 }, () => uniqueTempName('/x/containers.conf')));
    expect(names.size).toBe(1000);
    for (const name of names) expect(name).toMatch(/^\/x\/containers\.conf\.tmp-[0-9a-f]{12}$/);
  });
});
