#!/usr/bin/env node
// Boot time and peak memory of the real generated images (podman): clawdbot ours vs the seed's setup,
// first boot and restart, seconds to `[gateway] listening` and the container cgroup's peak MB;
// then OpenClaw 2026.9.6 side by side: on the host (Node 24, cold and warm) and in its generated
// image (first boot, restart, restart after a kill), each with the gateway's own timer and the
// ratio to the warm host boot (goals: every image boot ≤ 1.3×, first boot ≤ restart).
// Builds the image first when the cache has none (minutes). The measuring code is TypeScript
// shared with the image tests (test/image/boot.ts); vite-node runs it.
//   node bench/boot.mjs                    (or: npm run bench boot)
//   BOOT_BENCH_SETUPS=ours node bench/boot.mjs   (any of ours,seed,openclaw)
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite-node', 'vite-node.mjs'), join(ROOT, 'test', 'image', 'boot-bench.ts')], {
  cwd: ROOT,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
