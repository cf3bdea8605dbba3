/**
 * A release without a row, against the real npm registry (image tier: it needs the network to the
 * registry): `init --runtime openclaw@2026.9.4` asks the registry, generates the lockfile with the
 * function that makes a row's, and npm ci accepts that lockfile with its package.json (a dry run:
 * npm checks they agree and resolves the whole tree from the lockfile, without downloading it; it
 * refuses the pair once they disagree). An unpublished version is refused by the real registry.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir, TEST_SECRETS } from '../helpers/cli.js';

function npmCi(dir: string): { code: number; out: string } {
  const r = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--omit=dev', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8', timeout: 10 * 60_000, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

describe('a release without a row, against the npm registry', () => {
  it('openclaw@2026.9.4: its generated lockfile is one npm ci accepts', async () => {
    const dir = join(tempDir(), 'gateway');
    const r = await runCli(['init', '--yes', '--dir', dir, '--app', 'test-claw', '--region', 'iad', '--runtime', 'openclaw@2026.9.4'], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY, OPENAI_API_KEY: undefined, CLAWDFLY_NPM: undefined }, timeoutMs: 10 * 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('openclaw@2026.9.4 is untested by clawdfly');
    const runtimeDir = join(dir, 'runtime');
    const lock = JSON.parse(readFileSync(join(runtimeDir, 'package-lock.json'), 'utf8'));
    expect(lock.packages[''].dependencies).toEqual({ openclaw: '2026.9.4' });
    expect(lock.packages['node_modules/openclaw']).toMatchObject({ version: '2026.9.4', integrity: expect.stringMatching(/^sha512-/), engines: { node: '>=24.16.0 <25 || >=26.1.0' } });
    // like a row's: no `resolved` URLs (the image's npm ci takes the registry it is given)
    expect(Object.values(lock.packages as Record<string, { resolved?: string }>).filter((p) => p.resolved)).toEqual([]);
    const ci = npmCi(runtimeDir);
    expect(ci.code, ci.out).toBe(0);
    expect(ci.out).toMatch(/added \d+ packages/);

    // the check can fail: the same lockfile with a package.json naming another release is refused
    const other = join(tempDir(), 'runtime');
    cpSync(runtimeDir, other, { recursive: true });
    writeFileSync(join(other, 'package.json'), readFileSync(join(other, 'package.json'), 'utf8').replace('"openclaw": "2026.9.4"', '"openclaw": "2026.9.5"'));
    expect(npmCi(other).code).not.toBe(0);
  }, 15 * 60_000);

  it('an unpublished version: exit 2, the cause, nothing written', async () => {
    const dir = join(tempDir(), 'gateway');
    const r = await runCli(['init', '--yes', '--dir', dir, '--app', 'test-claw', '--region', 'iad', '--runtime', 'openclaw@2026.9.99'], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY, CLAWDFLY_NPM: undefined }, timeoutMs: 5 * 60_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('openclaw@2026.9.99 is not published on the npm registry');
    expect(existsSync(dir)).toBe(false);
  }, 10 * 60_000);
});
