/**
 * One container store per run: CLAWDFLY_TEST_PODMAN_ROOT reaches every podman call of the run,
 * including the code under test, because it is handed on as podman's own CONTAINERS_STORAGE_CONF.
 * A plain `podman info` started the way clawdfly starts podman (src/local/engine.ts podmanEnv, the
 * caller's environment, no storage flags) reports the run's store, not the default one. (With the
 * old --root/--runroot flags only the harness's own calls saw the private store.)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_PODMAN_SETTINGS, podmanEnv } from '../../src/local/engine.js';
import { useTestPodmanRoot } from './podman-engine.mjs';

const root = mkdtempSync(join(tmpdir(), 'clawdfly-podman-root-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('CLAWDFLY_TEST_PODMAN_ROOT', () => {
  it("reaches a podman started by clawdfly's engine code, as CONTAINERS_STORAGE_CONF", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, CLAWDFLY_TEST_PODMAN_ROOT: root };
    delete env['CONTAINERS_STORAGE_CONF'];
    const conf = useTestPodmanRoot(env);
    expect(conf).toBe(join(root, 'storage.conf'));
    expect(env['CONTAINERS_STORAGE_CONF']).toBe(conf);
    // what `clawdfly up --local` gives podman: the caller's environment, through podmanEnv
    const engineEnv = await podmanEnv(DEFAULT_PODMAN_SETTINGS, env);
    const info = spawnSync('podman', ['info', '--format', '{{.Store.GraphRoot}} {{.Store.RunRoot}}'], { env: engineEnv, encoding: 'utf8', timeout: 120_000 });
    expect(info.status, info.stderr).toBe(0);
    expect(info.stdout.trim()).toBe(`${join(root, 'storage')} ${join(root, 'run')}`);
  }, 180_000);

  it('without it, nothing is set (podman keeps its default store)', () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] };
    expect(useTestPodmanRoot(env)).toBeUndefined();
    expect(env['CONTAINERS_STORAGE_CONF']).toBeUndefined();
  });
});
