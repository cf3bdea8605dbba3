/**
 * `upgrade` renders the CI workflow again, and the workflow's install step runs `npm ci` in
 * `.github/clawdfly/` (src/project/ci-install.ts). A project made before that pin existed has none:
 * the upgrade must write it (from a clawdfly that came from a registry), or say plainly that it
 * could not, never leave a workflow whose install fails on the next push. A pin that is there stays
 * when this clawdfly cannot pin itself.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initProject, tempDir, useInProcessCli } from '../helpers/cli.js';
import { ciSpecFlags } from '../helpers/clawdfly-pack.js';
import { findRuntime } from '../../src/gateway/runtime.js';
import { loadProject } from '../../src/project/project.js';
import { runningOrigin } from '../../src/project/ci-install.js';
import { applyLocalUpgrade, planLocalUpgrade } from '../../src/release/local.js';

useInProcessCli();

const TO = findRuntime('openclaw@2026.9.6')!;
const PUBLISHED = { resolved: 'https://registry.npmjs.org/clawdfly/-/clawdfly-0.1.0.tgz', integrity: 'sha512-VGhlIHB1Ymxpc2hlZCBjbGF3ZGZseSB0YXJiYWxs' };

/** A clawdfly installed by npm from the registry: node_modules/clawdfly, recorded in node_modules/.package-lock.json. */
function publishedOrigin() {
  const root = tempDir('clawdfly-installed-');
  mkdirSync(join(root, 'node_modules', 'clawdfly'), { recursive: true });
  writeFileSync(join(root, 'node_modules', '.package-lock.json'), JSON.stringify({ name: 'x', lockfileVersion: 3, packages: { 'node_modules/clawdfly': { version: '0.1.0', ...PUBLISHED, license: 'MIT', bin: { clawdfly: 'bin/clawdfly.js' } } } }));
  const origin = runningOrigin(join(root, 'node_modules', 'clawdfly'));
  expect(origin?.published).toEqual(PUBLISHED);
  return origin;
}

/** A CI project of an older clawdfly: the workflow, without `.github/clawdfly/`. */
async function olderCiProject(): Promise<string> {
  const dir = await initProject(['--runtime', 'clawdbot', '--github-actions', ...ciSpecFlags()]);
  expect(existsSync(join(dir, '.github', 'clawdfly', 'package-lock.json'))).toBe(true);
  rmSync(join(dir, '.github', 'clawdfly'), { recursive: true });
  return dir;
}

describe('upgrade keeps the CI workflow installable', () => {
  it('writes the missing .github/clawdfly/ pin of the clawdfly that renders the workflow (one from the registry)', async () => {
    const dir = await olderCiProject();
    const project = await loadProject(dir);
    const plan = await planLocalUpgrade(project, TO, { ciOrigin: publishedOrigin() });
    const paths = plan.changes.map((c) => `${c.change} ${c.path}`);
    expect(paths).toContain('create .github/clawdfly/package-lock.json');
    expect(paths).toContain('create .github/clawdfly/package.json');
    await applyLocalUpgrade(project, plan);
    const lock = JSON.parse(readFileSync(join(dir, '.github', 'clawdfly', 'package-lock.json'), 'utf8'));
    expect(lock.packages['node_modules/clawdfly']).toMatchObject({ version: '0.1.0', ...PUBLISHED });
    expect(JSON.parse(readFileSync(join(dir, '.github', 'clawdfly', 'package.json'), 'utf8')).dependencies).toEqual({ clawdfly: '0.1.0' });
    // the workflow installs from exactly there
    expect(readFileSync(join(dir, '.github', 'workflows', 'deploy.yml'), 'utf8')).toContain('.github/clawdfly');
  });

  it('from a clawdfly not from a registry: an existing pin is kept; a missing one is said, with the command that writes it', async () => {
    const kept = await initProject(['--runtime', 'clawdbot', '--github-actions', ...ciSpecFlags()]);
    const before = readFileSync(join(kept, '.github', 'clawdfly', 'package-lock.json'), 'utf8');
    const keptPlan = await planLocalUpgrade(await loadProject(kept), TO, { ciOrigin: runningOrigin() });
    expect(keptPlan.changes.map((c) => c.path).filter((p) => p.startsWith('.github/clawdfly'))).toEqual([]);
    expect(keptPlan.warnings.join('\n')).not.toContain('.github/clawdfly');
    expect(readFileSync(join(kept, '.github', 'clawdfly', 'package-lock.json'), 'utf8')).toBe(before);

    const older = await olderCiProject();
    const plan = await planLocalUpgrade(await loadProject(older), TO, { ciOrigin: runningOrigin() });
    expect(plan.changes.map((c) => c.path).filter((p) => p.startsWith('.github/clawdfly'))).toEqual([]);
    expect(plan.warnings.join('\n')).toMatch(/\.github\/clawdfly\/\) could not be written .*clawdfly init --keep --github-actions --clawdfly-spec/);
  });
});
