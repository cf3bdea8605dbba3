/**
 * `npm run bench` → bench/image.mjs → this file (vite-node). One run, side by side on one base:
 * the size of our image, the unpruned one and the naive one (see image-sizes.ts) with their build
 * times, then a first boot and a restart of ours and of the unpruned image (same project, same
 * fly.toml): the prune must not cost boot time or memory. Prints tables and one JSON line.
 * IMAGE_BENCH_REBUILD=1 rebuilds all three without cache (cold build times; many minutes);
 * IMAGE_BENCH_BOOT=0 prints the sizes only.
 */
import { canonicalProject, CANONICAL_TAG, openclawProject } from './project.js';
import { RUNTIMES } from '../../src/gateway/runtime.js';
import { OPENCLAW_ID } from './openclaw-boot.js';
import { buildImage } from '../support/podman.js';
import { duMb, imageSizeBytes, naiveImage, naiveOpenclawImage, unprunedImage, type BuiltImage } from './image-sizes.js';
import { formatTable, measureSetup, type BootSample } from './boot.js';

const GOAL_RATIO = 0.4;
const LIMIT_RATIO = 0.45;
/** The bar for OpenClaw: the generated image ≤ 0.6× the naive one. */
const OPENCLAW_LIMIT_RATIO = 0.6;
const noCache = process.env.IMAGE_BENCH_REBUILD === '1';
const t0 = Date.now();
const log = (s: string) => console.log(`  ${s}`);

const setups = process.env.IMAGE_BENCH_SETUPS?.split(',') ?? ['clawdbot', 'openclaw'];
if (setups.includes('openclaw')) await openclawSizes();
if (!setups.includes('clawdbot')) process.exit(process.exitCode ?? 0);

/**
 * OpenClaw: the generated image (`init --yes --runtime openclaw`) vs the naive `npm install` of the
 * same pinned openclaw bundle, both on node:24-bookworm-slim, side by side in this run.
 */
async function openclawSizes(): Promise<void> {
  const oc = await openclawProject();
  const naiveOc = await naiveOpenclawImage(OPENCLAW_ID, { noCache });
  const ocRows: { name: string; mb: number; nodeModulesMb: number; build: string }[] = [];
  for (const img of [{ name: 'openclaw (generated)', image: oc.image, build: oc.build }, naiveOc]) {
    ocRows.push({ name: img.name, mb: (await imageSizeBytes(img.image)) / 1e6, nodeModulesMb: await duMb(img.image, '/app/node_modules'), build: img.build.cached ? 'cached' : `${img.build.seconds.toFixed(0)} s` });
  }
  const base = (await imageSizeBytes(`node:${RUNTIMES[OPENCLAW_ID]!.nodeMajor}-bookworm-slim`)) / 1e6;
  const naiveMb = ocRows[1]!.mb;
  const ocRatio = ocRows[0]!.mb / naiveMb;
  const t = [['image', 'size', '/app/node_modules', 'vs naive', 'build'], ...ocRows.map((r) => [r.name, `${(r.mb / 1000).toFixed(2)} GB`, `${r.nodeModulesMb} MB`, `${(r.mb / naiveMb).toFixed(2)}×`, r.build])];
  const w = t[0]!.map((_, i) => Math.max(...t.map((r) => r[i]!.length)));
  const f = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  console.log('');
  console.log([f(t[0]!), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...t.slice(1).map(f)].join('\n'));
  console.log(`base node:${RUNTIMES[OPENCLAW_ID]!.nodeMajor}-bookworm-slim: ${(base / 1000).toFixed(2)} GB (in both)`);
  console.log(`openclaw image ratio generated / naive: ${ocRatio.toFixed(2)}× (limit ${OPENCLAW_LIMIT_RATIO}×: ${ocRatio <= OPENCLAW_LIMIT_RATIO ? 'met' : 'NOT met'})`);
  console.log(JSON.stringify({ bench: 'image-openclaw', ratio: Math.round(ocRatio * 1000) / 1000, baseMb: Math.round(base), images: ocRows }));
  if (ocRatio > OPENCLAW_LIMIT_RATIO) process.exitCode = 1;
}

const project = await canonicalProject();
const ours: BuiltImage = { name: 'ours', image: project.image, build: noCache ? await buildImage(project.dir, CANONICAL_TAG, { noCache }) : project.build };
const unpruned = await unprunedImage(project.dir, { noCache });
const naive = await naiveImage({ noCache });

const rows: { name: string; mb: number; nodeModulesMb: number; build: string }[] = [];
for (const img of [ours, unpruned, naive]) {
  const mb = (await imageSizeBytes(img.image)) / 1e6;
  const nodeModulesMb = await duMb(img.image, '/app/node_modules');
  rows.push({ name: img.name, mb, nodeModulesMb, build: img.build.cached ? 'cached' : `${img.build.seconds.toFixed(0)} s` });
}
const size = (name: string) => rows.find((r) => r.name === name)!.mb;
const ratio = size('ours') / size('naive');
const table = [['image', 'size', '/app/node_modules', 'vs naive', 'build'], ...rows.map((r) => [r.name, `${(r.mb / 1000).toFixed(2)} GB`, `${r.nodeModulesMb} MB`, `${(r.mb / size('naive')).toFixed(2)}×`, r.build])];
const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
const fmt = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log('');
console.log([fmt(table[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...table.slice(1).map(fmt)].join('\n'));
console.log(`image ratio ours / naive: ${ratio.toFixed(2)}× (limit ${LIMIT_RATIO}×, goal ${GOAL_RATIO}×: ${ratio <= GOAL_RATIO ? 'goal met' : ratio <= LIMIT_RATIO ? 'within the limit' : 'NOT met'})`);

const samples: BootSample[] = [];
for (const img of process.env.IMAGE_BENCH_BOOT === '0' ? [] : [ours, unpruned]) {
  for (const s of await measureSetup('ours', project.dir, img.image, (line) => log(`${img.name}: ${line}`))) samples.push({ ...s, label: img.name === 'ours' ? 'ours (pruned image)' : 'ours, unpruned image' });
}
if (samples.length) console.log(`\n${formatTable(samples)}`);
console.log(JSON.stringify({ bench: 'image', ratio: Math.round(ratio * 1000) / 1000, images: rows, samples, totalSeconds: Math.round((Date.now() - t0) / 1000) }));
if (ratio > LIMIT_RATIO) process.exitCode = 1;
