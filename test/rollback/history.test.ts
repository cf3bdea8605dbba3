/**
 * .clawdfly/releases.json bookkeeping without Fly: the history is capped and old copies pruned,
 * the default target skips releases identical to the current one, and the release copies never
 * reach the image build context (the build inputs hash does not move when they appear).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initProject, runCli, tempDir, TEST_SECRETS } from '../helpers/cli.js';
import { ciSpecFlags } from '../helpers/clawdfly-pack.js';
import { loadProject } from '../../src/project/project.js';
import { buildInputsHash } from '../../src/deploy/state.js';
import { currentAndPrevious, fileChanges, KEEP_RELEASES, readReleases, recordRelease, restoreFiles } from '../../src/release/releases.js';
import { chooseTarget } from '../../src/commands/rollback/index.js';
import type { Machine } from '../../src/fly/json.js';
import { contextHash } from '../support/podman.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

function machine(version: number, tag: string): Machine {
  return {
    id: 'm1',
    state: 'started',
    image_ref: { registry: 'registry.fly.io', repository: 'test-claw', tag, digest: `sha256:${createHash('sha256').update(tag).digest('hex')}` },
    config: { image: `registry.fly.io/test-claw:${tag}`, metadata: { fly_release_version: String(version) } },
  } as unknown as Machine;
}

describe('release history', () => {
  it(`keeps the last ${KEEP_RELEASES} releases and their copies, out of the build inputs`, async () => {
    const dir = await initProject();
    const project = await loadProject(dir);
    const inputs = await buildInputsHash(dir);
    for (let v = 1; v <= KEEP_RELEASES + 3; v++) {
      writeFileSync(join(dir, 'Dockerfile'), `# release ${v}\n`);
      await recordRelease(project, machine(v, `deployment-${v}`), { kind: 'deploy' });
    }
    const history = await readReleases(dir, project.app);
    expect(history.releases.map((r) => r.version)).toEqual(Array.from({ length: KEEP_RELEASES }, (_, i) => String(i + 4)));
    const copies = readdirSync(join(dir, '.clawdfly', 'releases')).filter((n) => n !== '.gitignore').sort((a, b) => Number(a) - Number(b));
    expect(copies).toEqual(history.releases.map((r) => r.version));
    expect(existsSync(join(dir, '.clawdfly', 'releases', '3'))).toBe(false);
    // the Dockerfile edits moved the build inputs; the .clawdfly/releases copies do not
    const withCopies = await buildInputsHash(dir);
    const imageKey = await contextHash(dir);
    expect(withCopies).not.toBe(inputs);
    rmSync(join(dir, '.clawdfly', 'releases'), { recursive: true });
    expect(await buildInputsHash(dir)).toBe(withCopies);
    expect(await contextHash(dir)).toBe(imageKey);
    expect(readFileSync(join(dir, '.dockerignore'), 'utf8')).toMatch(/^\.clawdfly$/m);

    await recordRelease(project, machine(KEEP_RELEASES + 3, `deployment-${KEEP_RELEASES + 3}`), { kind: 'deploy' });
    expect(chooseTarget(history, undefined).target.version).toBe(String(KEEP_RELEASES + 2));
    expect(chooseTarget(history, 'v5').target.version).toBe('5');
    expect(() => chooseTarget(history, 'v2')).toThrow(/no release v2/);
  });

  it('the default target is the newest earlier release that differs from the current one', async () => {
    const dir = await initProject();
    const project = await loadProject(dir);
    await recordRelease(project, machine(1, 'a'), { kind: 'deploy' });
    writeFileSync(join(dir, 'Dockerfile'), '# b\n');
    await recordRelease(project, machine(2, 'b'), { kind: 'deploy' });
    // v3: the same image and files as v2 (a redeploy that changed only secrets)
    await recordRelease(project, machine(3, 'b'), { kind: 'deploy' });
    const history = await readReleases(dir, project.app);
    expect(currentAndPrevious(history).current?.version).toBe('3');
    expect(currentAndPrevious(history).previous?.version).toBe('1');
    const only = { ...history, releases: history.releases.slice(0, 1) };
    expect(() => chooseTarget(only, undefined)).toThrow(/only one release/);
  });

  it('a CI workflow at the repository root, above the project: kept with the release, copied inside its folder, put back', async () => {
    const repo = tempDir();
    mkdirSync(join(repo, '.git'));
    writeFileSync(join(repo, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    const dir = join(repo, 'infra', 'gateway');
    const init = await runCli(['init', '--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'test-claw', '--github-actions', ...ciSpecFlags()], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY } });
    expect(init.code, init.stderr).toBe(0);
    const workflow = join(repo, '.github', 'workflows', 'deploy.yml');
    const original = readFileSync(workflow, 'utf8');
    const project = await loadProject(dir);
    const first = await recordRelease(project, machine(1, 'a'), { kind: 'deploy' });
    expect(Object.keys(first.files)).toContain('../../.github/workflows/deploy.yml');
    expect(readFileSync(join(dir, '.clawdfly', 'releases', '1', '_up_', '_up_', '.github', 'workflows', 'deploy.yml'), 'utf8')).toBe(original);

    writeFileSync(workflow, original.replace('CLAWDBOT_GATEWAY_TOKEN', 'OPENCLAW_GATEWAY_TOKEN'));
    await recordRelease(project, machine(2, 'b'), { kind: 'deploy' });
    const changes = await fileChanges(project, first);
    expect(changes.map((c) => [c.path, c.change])).toEqual([['../../.github/workflows/deploy.yml', 'update']]);
    await restoreFiles(project, first, changes);
    expect(readFileSync(workflow, 'utf8')).toBe(original);

    // a releases.json edited to name another path outside the project is not followed
    const tampered = { ...first, files: { ...first.files, '../../../elsewhere.txt': first.files['../../.github/workflows/deploy.yml']! } };
    await expect(fileChanges(project, tampered)).rejects.toThrow(/outside the project: refused/);
  });
});
