/**
 * The runtime table: rows of one line share a base (a release that changes nothing is one line),
 * "newest" is the highest version wherever the row was written, and what a rollback discards comes
 * from the pair of rows (from → to).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RUNTIME_ID, findRuntime, LEGACY_RUNTIME_ID, newestRow, resolveRuntimeId, RUNTIMES, runtimeIds, stateEntriesToDiscard } from '../../src/gateway/runtime.js';
import { runtimePackageJson } from '../../src/project/render.js';
import { ROOT } from '../helpers/cli.js';

const row = (id: string) => findRuntime(id)!;

describe('runtime rows', () => {
  it('newest is the highest version, not the last row written', () => {
    const openclawIds = runtimeIds().filter((id) => id.startsWith('openclaw@'));
    expect(openclawIds.at(-1)).toBe('openclaw@2026.9.5'); // written after 2026.9.6
    expect(newestRow('openclaw')!.id).toBe('openclaw@2026.9.6');
    expect(resolveRuntimeId('openclaw')).toBe('openclaw@2026.9.6');
    expect(DEFAULT_RUNTIME_ID).toBe('openclaw@2026.9.6');
    expect(resolveRuntimeId('clawdbot')).toBe(LEGACY_RUNTIME_ID);
    expect(resolveRuntimeId('openclaw@2026.9.5')).toBe('openclaw@2026.9.5');
  });

  it('releases of one line share every fact but their version', () => {
    const { id: _a, packageVersion: _b, displayVersion: _c, ...five } = row('openclaw@2026.9.5');
    const { id: _d, packageVersion: _e, displayVersion: _f, ...six } = row('openclaw@2026.9.6');
    expect(five).toEqual(six);
    expect(row('openclaw@2026.9.5')).toMatchObject({ id: 'openclaw@2026.9.5', packageVersion: '2026.9.5', displayVersion: '2026.9.5' });
  });

  it("every row has a committed lockfile whose root is the package.json init writes for it", () => {
    for (const runtime of Object.values(RUNTIMES)) {
      const lock = JSON.parse(readFileSync(join(ROOT, 'templates', 'runtime', `${runtime.id}.package-lock.json`), 'utf8'));
      const pkg = JSON.parse(runtimePackageJson(runtime));
      expect(lock.packages[''], runtime.id).toMatchObject({ name: pkg.name, version: pkg.version, dependencies: pkg.dependencies });
      expect(lock.packages[`node_modules/${runtime.packageName}`].version, runtime.id).toBe(runtime.packageVersion);
    }
  });

  it('a rollback discards what the newer gateway writes and the older one never does: a property of the pair', () => {
    const clawdbot = row(LEGACY_RUNTIME_ID);
    const five = row('openclaw@2026.9.5');
    const six = row('openclaw@2026.9.6');
    // openclaw → clawdbot: state/ is openclaw's alone (clawdbot never writes it)
    expect(stateEntriesToDiscard(six, clawdbot)).toEqual(['state']);
    // openclaw → openclaw: state/ is the older gateway's own store again
    expect(stateEntriesToDiscard(six, five)).toEqual([]);
    expect(stateEntriesToDiscard(six, six)).toEqual([]);
    expect(stateEntriesToDiscard(clawdbot, six)).toEqual([]);
  });
});
