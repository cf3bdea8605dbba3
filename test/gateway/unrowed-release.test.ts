/**
 * `--runtime openclaw@<version>` / `upgrade --to openclaw@<version>` for a published release with no
 * row: built on the newest row at or below it (below every row: the oldest row, within its release
 * line only), checked against the registry (published? `engines`?) through the npm double
 * (test/fakenpm/npm.mjs: no network), its lockfile made by the one function that makes a row's, and
 * said once to be untested by clawdfly. A release that is not published, a spec that is not an exact
 * version, a release older than every row's line, and an engines mismatch: one-line cause, the fix,
 * exit 2, nothing written (and no flyctl call).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir, TEST_SECRETS, useInProcessCli } from '../helpers/cli.js';
import { ALL_OUTPUT, newProject, stopAppServer } from '../deploy/setup.js';
import { baseRowFor, enginesProblem, findRuntime, resolveRuntimeId, RUNTIMES } from '../../src/gateway/runtime.js';
import { runtimePackageJson } from '../../src/project/render.js';
import { rangeAdmits } from '../../src/util/version.js';

useInProcessCli();
afterAll(stopAppServer);

const ENGINES_9 = { node: '>=24.16.0 <25 || >=26.1.0' };
/** What the double's registry publishes (the real one's engines for 2026.9.1 and 2026.9.4, measured with npm view). */
const PUBLISHED = {
  openclaw: {
    '2026.9.1': { engines: { node: '>=22.22.3 <23 || >=24.15.0 <25 || >=25.9.0' } },
    '2026.9.3': { engines: { node: '>=22.12 <23' } },
    '2026.9.4': { engines: ENGINES_9 },
    '2026.9.5': { engines: ENGINES_9 },
    '2026.9.6': { engines: ENGINES_9 },
    '2026.9.7': { engines: ENGINES_9 },
    '2026.9.8': { engines: { node: '>=26.1.0' } },
    '2026.8.2': { engines: ENGINES_9 },
  },
};

let npmEnv: Record<string, string> = {};
let npmLog = '';

beforeAll(() => {
  const dir = tempDir('clawdfly-fakenpm-');
  writeFileSync(join(dir, 'published.json'), JSON.stringify(PUBLISHED));
  npmLog = join(dir, 'npm.log');
  writeFileSync(npmLog, '');
  npmEnv = { CLAWDFLY_NPM: join(ROOT, 'test', 'fakenpm', 'npm.mjs'), FAKENPM_PACKAGES: join(dir, 'published.json'), FAKENPM_LOG: npmLog };
});

function npmCalls(): { argv: string[] }[] {
  return readFileSync(npmLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { argv: string[] });
}

const KEYS = { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY, OPENAI_API_KEY: undefined };

async function init(dir: string, flags: string[], env: Record<string, string | undefined> = {}) {
  const r = await runCli(['init', '--yes', '--dir', dir, '--app', 'test-claw', '--region', 'iad', ...flags], { env: { ...KEYS, ...npmEnv, ...env } });
  ALL_OUTPUT.push(r.stdout, r.stderr);
  return r;
}

const read = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8');

describe('which row a release without one is built on', () => {
  it('the newest row at or below it; below every row, the oldest row of the same release line only', () => {
    expect(baseRowFor('openclaw', '2026.9.7')?.id).toBe('openclaw@2026.9.6');
    expect(baseRowFor('openclaw', '2026.10.2')?.id).toBe('openclaw@2026.9.6');
    expect(baseRowFor('openclaw', '2026.9.4')?.id).toBe('openclaw@2026.9.5');
    expect(baseRowFor('openclaw', '2026.9.1-beta.1')?.id).toBe('openclaw@2026.9.5');
    expect(baseRowFor('openclaw', '2026.8.2')).toBeUndefined();
    const unrowed = findRuntime('openclaw@2026.9.4')!;
    expect(unrowed).toMatchObject({ id: 'openclaw@2026.9.4', packageVersion: '2026.9.4', displayVersion: '2026.9.4', basedOn: 'openclaw@2026.9.5', health: RUNTIMES['openclaw@2026.9.5']!.health });
    expect(RUNTIMES['openclaw@2026.9.4']).toBeUndefined();
    expect(findRuntime('openclaw@2026.9.6')!.basedOn).toBeUndefined();
    // not an exact version, or not the maintained line: no runtime
    for (const spec of ['openclaw@latest', 'openclaw@^2026.9', 'openclaw@2026.9', 'clawdbot@2026.1.25', 'openclaw@2026.8.2']) expect(findRuntime(spec), spec).toBeUndefined();
    expect(resolveRuntimeId('openclaw@2026.9.4')).toBe('openclaw@2026.9.4');
  });

  it('engines: the range must admit the row\'s lowest Node and the newest of its major', () => {
    const row = RUNTIMES['openclaw@2026.9.5']!;
    expect(rangeAdmits(ENGINES_9.node, '24.16.0')).toBe(true);
    expect(rangeAdmits(ENGINES_9.node, '25.2.0')).toBe(false);
    expect(rangeAdmits(ENGINES_9.node, '24.15.9')).toBe(false);
    expect(rangeAdmits('^24.16.0', '24.999.0')).toBe(true);
    expect(rangeAdmits('~24.16.0', '24.17.0')).toBe(false);
    expect(rangeAdmits('24.x', '24.3.1')).toBe(true);
    expect(rangeAdmits('>=24.16 <24.20', '24.999.0')).toBe(false);
    expect(rangeAdmits('node 24', '24.16.0')).toBeUndefined();
    expect(enginesProblem(row, ENGINES_9.node)).toBeUndefined();
    expect(enginesProblem(row, PUBLISHED.openclaw['2026.9.1'].engines.node)).toBeUndefined();
    expect(enginesProblem(row, '>=22.12 <23')).toMatch(/refuses the Node the image runs \(Node 24/);
    expect(enginesProblem(row, '>=24.16 <24.20')).toMatch(/refuses/);
    expect(enginesProblem(row, 'node 24')).toMatch(/cannot be read/);
  });
});

describe('init --runtime openclaw@<a release with no row>', () => {
  it('writes the project on the row at or below it, with a lockfile from the registry, and says once that it is untested', async () => {
    const dir = join(tempDir(), 'gateway');
    const r = await init(dir, ['--runtime', 'openclaw@2026.9.4']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(read(dir, '.clawdfly/answers.json')).runtime).toBe('openclaw@2026.9.4');
    expect(JSON.parse(read(dir, 'runtime/package.json')).dependencies).toEqual({ openclaw: '2026.9.4' });
    expect(read(dir, 'runtime/package.json')).toBe(runtimePackageJson(findRuntime('openclaw@2026.9.4')!));
    const lock = JSON.parse(read(dir, 'runtime/package-lock.json'));
    expect(lock.packages['']).toMatchObject({ dependencies: { openclaw: '2026.9.4' } });
    expect(lock.packages['node_modules/openclaw']).toMatchObject({ version: '2026.9.4', engines: ENGINES_9 });
    // 2026.9.5's row: its health endpoints and its gateway's names
    expect(read(dir, 'fly.toml')).toContain('/startupz');
    expect(existsSync(join(dir, 'openclaw.json'))).toBe(true);
    // said once, plainly
    const said = `${r.stdout}${r.stderr}`;
    expect(said.match(/untested by clawdfly/g), said).toHaveLength(1);
    expect(said).toContain('openclaw@2026.9.4 is untested by clawdfly');
    expect(said).toContain("openclaw@2026.9.5's");
    expect(npmCalls().map((c) => c.argv.slice(0, 2).join(' '))).toEqual(['view openclaw@2026.9.4', 'install --package-lock-only']);

    // A re-run keeps the pin it wrote: no registry call, nothing said again, the lockfile unchanged.
    writeFileSync(npmLog, '');
    const again = await init(dir, ['--keep']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(read(dir, '.clawdfly/answers.json')).runtime).toBe('openclaw@2026.9.4');
    expect(`${again.stdout}${again.stderr}`).not.toContain('untested');
    expect(JSON.parse(read(dir, 'runtime/package-lock.json'))).toEqual(lock);
    expect(npmCalls()).toEqual([]);
  });

  it('a release newer than every row is built on the newest row; one below every row on the oldest, when its engines fit', async () => {
    const newer = join(tempDir(), 'gateway');
    const r = await init(newer, ['--runtime', 'openclaw@2026.9.7', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).warnings.join('\n')).toContain("openclaw@2026.9.7 is untested by clawdfly: it has no row, so its image is built on openclaw@2026.9.6's");
    const older = join(tempDir(), 'gateway');
    const o = await init(older, ['--runtime', 'openclaw@2026.9.1', '--json']);
    expect(o.code, o.stderr).toBe(0);
    expect(JSON.parse(o.stdout).warnings.join('\n')).toContain("built on openclaw@2026.9.5's");
    expect(JSON.parse(read(older, 'runtime/package-lock.json')).packages['node_modules/openclaw'].version).toBe('2026.9.1');
  });

  it.each([
    ['not published', 'openclaw@2026.9.99', /openclaw@2026\.9\.99 is not published on the npm registry/, /--runtime <a published version>/, ['view openclaw@2026.9.99']],
    ['engines that refuse the image\'s Node', 'openclaw@2026.9.3', /openclaw@2026\.9\.3 does not fit the image .*refuses the Node the image runs/, /--runtime openclaw@2026\.9\.6/, ['view openclaw@2026.9.3']],
    ['not an exact version', 'openclaw@^2026.9', /not an exact openclaw version/, /--runtime openclaw@2026\.9\.6/, []],
    ['a tag', 'openclaw@latest', /not an exact openclaw version/, /--runtime openclaw@2026\.9\.6/, []],
    ['older than every row\'s line', 'openclaw@2026.8.2', /older than every release clawdfly has a row for \(2026\.9\.5, 2026\.9\.6\)/, /--runtime openclaw@2026\.9\.5 or later/, []],
  ])('%s: one-line cause, the fix, exit 2, nothing written', async (_what, spec, cause, fix, calls) => {
    writeFileSync(npmLog, '');
    const dir = join(tempDir(), 'gateway');
    const r = await init(dir, ['--runtime', spec]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(cause);
    expect(r.stderr).toMatch(fix);
    expect(existsSync(dir)).toBe(false);
    expect(npmCalls().map((c) => c.argv.slice(0, 2).join(' '))).toEqual(calls);
  });

  it('the registry unreachable: said as such (not "unpublished"), nothing written', async () => {
    const dir = join(tempDir(), 'gateway');
    const r = await init(dir, ['--runtime', 'openclaw@2026.9.4'], { FAKENPM_OFFLINE: '1' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/npm view openclaw@2026\.9\.4 failed: the registry could not be asked/);
    expect(r.stderr).toContain('ENOTFOUND');
    expect(existsSync(dir)).toBe(false);
  });
});

describe('upgrade --to openclaw@<a release with no row>', () => {
  it('checks the registry and writes its lockfile; refusals (unpublished, engines) come before any flyctl call and change nothing', async () => {
    const p = await newProject({ initFlags: ['--runtime', 'openclaw@2026.9.6'] });
    const env = { ...p.env, ...npmEnv };
    const first = await p.deploy(['--yes', '--json'], npmEnv);
    expect(first.code, first.stderr).toBe(0);
    const files = () => ['runtime/package.json', 'runtime/package-lock.json', '.clawdfly/answers.json', 'fly.toml'].map((f) => read(p.dir, f));
    const before = files();

    for (const [spec, cause] of [['openclaw@2026.9.99', /not published/], ['openclaw@2026.9.8', /openclaw@2026\.9\.8 does not fit the image clawdfly builds for it \(on openclaw@2026\.9\.6's row\)/]] as const) {
      const mark = p.fake.invocations().length;
      const r = await runCli(['upgrade', '--to', spec, '--yes', '--dir', p.dir], { env });
      ALL_OUTPUT.push(r.stdout, r.stderr);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(cause);
      expect(r.stderr).toMatch(/--to (<a published version>|openclaw@2026\.9\.6)/);
      expect(p.since(mark)).toEqual([]);
      expect(files()).toEqual(before);
    }

    writeFileSync(npmLog, '');
    const up = await runCli(['upgrade', '--to', 'openclaw@2026.9.7', '--yes', '--json', '--dir', p.dir], { env, timeoutMs: 180_000 });
    ALL_OUTPUT.push(up.stdout, up.stderr);
    expect(up.code, up.stderr).toBe(0);
    const summary = JSON.parse(up.stdout);
    expect(summary).toMatchObject({ ok: true, from: { runtime: 'openclaw@2026.9.6' }, to: { runtime: 'openclaw@2026.9.7' } });
    expect(summary.warnings.filter((w: string) => w.includes('untested by clawdfly'))).toHaveLength(1);
    expect(JSON.parse(read(p.dir, '.clawdfly/answers.json')).runtime).toBe('openclaw@2026.9.7');
    expect(JSON.parse(read(p.dir, 'runtime/package-lock.json')).packages['node_modules/openclaw'].version).toBe('2026.9.7');
    expect(npmCalls().map((c) => c.argv.slice(0, 2).join(' '))).toEqual(['view openclaw@2026.9.7', 'install --package-lock-only']);
  }, 400_000);
});
