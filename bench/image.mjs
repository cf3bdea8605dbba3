#!/usr/bin/env node
// Image size (ours vs the unpruned and the naive image, built side by side on the same base),
// build times, and boot to listening + peak memory of the pruned vs the unpruned image.
// Builds what the cache lacks (minutes each). Code: test/image/image-bench.ts, run by vite-node.
//   node bench/image.mjs          (or: npm run bench image)
// First OpenClaw: its generated image vs the naive `npm install` of the same pinned openclaw on
// node:24-bookworm-slim (goal ≤ 0.6×). IMAGE_BENCH_SETUPS=openclaw (or clawdbot) measures one only.
//   IMAGE_BENCH_REBUILD=1 node bench/image.mjs   (cold build times)
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite-node', 'vite-node.mjs'), join(ROOT, 'test', 'image', 'image-bench.ts')], {
  cwd: ROOT,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
