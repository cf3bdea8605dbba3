import { defineConfig } from 'vitest/config';

/**
 * Two tiers (README "Tests and benchmarks"):
 * - fast: in-process tests and subprocess tests against the flyctl double and temp folders;
 *   `npm ci` and bsdtar (libarchive-tools, for the remote agent's tar tests) needed (npm run test:fast).
 * - image: podman and the real gateways from npm: test/image/, test/e2e/ and any *.image.test.ts
 *   (npm run test:image; its set-up checks the machine first and says what is missing).
 * `npm test` runs both in one vitest run (one secret scan over all of it).
 */
const IMAGE_TESTS = ['test/image/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/**/*.image.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests spawn the real CLI and real processes; two cores here. Forks, not threads: the
    // in-process runner (test/helpers/cli.ts) changes the working folder, which a worker thread
    // cannot (ERR_WORKER_UNSUPPORTED_OPERATION); and each file its own process (isolate), since a
    // command's module state (the language, the output mode) must not carry over into another file.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      {
        extends: true,
        // setup-tmpdir: each file's temp folder (TMPDIR) is removed when the file is done.
        test: { name: 'fast', include: ['test/**/*.test.ts'], exclude: IMAGE_TESTS, globalSetup: ['test/global-setup.ts'], setupFiles: ['test/setup-tmpdir.ts'] },
      },
      {
        extends: true,
        test: { name: 'image', include: IMAGE_TESTS, globalSetup: ['test/global-setup.ts', 'test/image-setup.ts']},
      },
    ],
  },
});
