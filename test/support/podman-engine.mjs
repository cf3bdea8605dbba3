// How the test harness (test/support/podman.ts) and the double's podman backend
// (test/fakefly/lib/backend-podman.mjs) drive podman on this machine: the same storage, runtime and
// containers.conf, so that both see the same images and containers. One place, imported by both.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

/** Name under which the stand-in base image is stored (what `FROM node:22-bookworm-slim` resolves to). */
export const BASE_IMAGE = 'docker.io/library/node:22-bookworm-slim';

/** Where built images are cached by context hash. */
export const CACHE_REPO = 'localhost/clawdfly-test-cache';

/** containers.conf for rootful podman in a container: runc, cgroupfs, a file event log, no ulimits. */
export const CONTAINERS_CONF = [
  '# written by clawdfly test/support/podman.ts',
  '[containers]',
  'default_ulimits = []',
  '',
  '[engine]',
  'runtime = "runc"',
  'cgroup_manager = "cgroupfs"',
  'events_logger = "file"',
  '',
].join('\n');

/** Writes containers.conf into the cache dir (atomically, only when it differs) and returns its path. */
export function ensureContainersConf(cacheDir) {
  const conf = path.join(cacheDir, 'containers.conf');
  if (!fs.existsSync(conf) || fs.readFileSync(conf, 'utf8') !== CONTAINERS_CONF) {
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${conf}.tmp-${crypto.randomBytes(6).toString('hex')}`;
    fs.writeFileSync(tmp, CONTAINERS_CONF);
    fs.renameSync(tmp, conf);
  }
  return conf;
}

/**
 * The folder podman runs in. conmon (the container monitor podman starts) writes an empty `oom`
 * marker into its working directory when the kernel OOM-kills the container (cgroup v1, runc +
 * cgroupfs): without this, it landed in the checkout.
 */
export function podmanWorkDir(cacheDir) {
  const dir = path.join(cacheDir, 'podman-cwd');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** storage.conf of a private container store under `root` (vfs, like every podman call here). */
export function storageConfText(root) {
  return ['# written by clawdfly test/support/podman-engine.mjs (CLAWDFLY_TEST_PODMAN_ROOT)', '[storage]', 'driver = "vfs"', `graphroot = ${JSON.stringify(path.join(root, 'storage'))}`, `runroot = ${JSON.stringify(path.join(root, 'run'))}`, ''].join('\n');
}

/**
 * CLAWDFLY_TEST_PODMAN_ROOT=<dir>: one private container store for the whole run (to rehearse a
 * clean machine without touching the shared images). It is handed on as podman's own setting,
 * CONTAINERS_STORAGE_CONF (podman(1), ENVIRONMENT), put into `env` (process.env by default): every
 * process started afterwards inherits it — the harness's podman calls, the double's podman backend
 * AND the code under test (`clawdfly up --local` runs podman with the caller's environment), so all
 * of them see one store. (The old --root/--runroot flags reached only the harness's own calls.)
 * Returns the storage.conf path, or undefined when the knob is not set.
 */
export function useTestPodmanRoot(env = process.env) {
  const root = env.CLAWDFLY_TEST_PODMAN_ROOT;
  if (!root) return undefined;
  const conf = path.join(root, 'storage.conf');
  const text = storageConfText(root);
  if (!fs.existsSync(conf) || fs.readFileSync(conf, 'utf8') !== text) {
    fs.mkdirSync(root, { recursive: true });
    const tmp = `${conf}.tmp-${crypto.randomBytes(6).toString('hex')}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, conf);
  }
  env.CONTAINERS_STORAGE_CONF = conf;
  return conf;
}

/**
 * The global flags every podman call takes (vfs storage, runc, cgroupfs, file events). The store
 * itself comes from the environment (useTestPodmanRoot), the same for every process of the run.
 */
export function podmanBaseArgs(env = process.env) {
  useTestPodmanRoot(env);
  return ['--storage-driver', 'vfs', '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
}
