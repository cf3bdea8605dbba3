/**
 * Global set-up of the image tier (test/image/, test/e2e/, *.image.test.ts): before any test
 * starts, check that this machine has what those tests need, and say exactly what is missing and
 * how to get it, once, instead of each file failing on its own half-way through a build.
 * Nothing is installed here: installing podman is a set-up step (.ci/run, README "Tests").
 *
 * It also puts CLAWDFLY_TEST_PODMAN_ROOT's private store (if set) into the environment every test,
 * double and CLI run inherits (see test/support/podman-engine.mjs).
 */
import { spawnSync } from 'node:child_process';
import { APT_PACKAGES, IMAGE_TIER_SETUP } from './support/podman.js';
import { useTestPodmanRoot } from './support/podman-engine.mjs';
import { which } from './support/util.js';

/** What the image tier lacks here, one line each (empty: ready). */
export function missingForImageTier(env: NodeJS.ProcessEnv = process.env): string[] {
  const missing: string[] = [];
  const forced = env['CLAWDFLY_TEST_ENGINE'];
  const dockerWorks = () => which('docker') !== undefined && spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8', timeout: 15_000 }).status === 0;
  if (forced === 'docker') {
    if (!dockerWorks()) missing.push('CLAWDFLY_TEST_ENGINE=docker, but `docker version` finds no working docker engine');
  } else if (forced === 'podman' || !which('docker') || !dockerWorks()) {
    const absent = APT_PACKAGES.filter((p) => !which(p));
    if (absent.length > 0) missing.push(`${absent.join(', ')} not on PATH: ${IMAGE_TIER_SETUP}`);
    else {
      const v = spawnSync(which('podman')!, ['--storage-driver', 'vfs', '--version'], { encoding: 'utf8', timeout: 60_000 });
      if (v.status !== 0) missing.push(`podman is installed but does not run: ${(v.stderr || v.stdout || `exit ${v.status}`).trim().split('\n')[0]}`);
    }
  }
  if (!which('npm')) missing.push('npm not on PATH: the real gateways and Node 22/24 are installed from the npm registry');
  if (!which('tar')) missing.push('tar not on PATH (sudo apt-get install -y tar)');
  return missing;
}

export function setup(): void {
  const store = useTestPodmanRoot(process.env);
  if (store) console.log(`image tier: podman store of this run from CLAWDFLY_TEST_PODMAN_ROOT (CONTAINERS_STORAGE_CONF=${store})`);
  const missing = missingForImageTier();
  if (missing.length > 0) {
    throw new Error(`the image tier (npm run test:image) cannot run on this machine:\n${missing.map((m) => `  - ${m}`).join('\n')}\n(npm run test:fast needs none of this)`);
  }
}
