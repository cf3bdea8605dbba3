/**
 * `npm run bench` → bench/boot.mjs → this file (run with vite-node, so it can use the TypeScript
 * harness). Builds the canonical image if needed, then measures a first boot and a restart for
 * our generated setup and for the seed's setup, one after another, then the same for the generated
 * OpenClaw image (its own row: node:24, openclaw@2026.9.6), and prints the table, the ratios of this
 * one run, and one JSON line.
 */
import { canonicalProject, openclawProject } from './project.js';
import { formatTable, measureSetup, type BootSample } from './boot.js';

const GOAL_RESTART_S = 8;
const GOAL_PEAK_MB = 450;

const log = (s: string) => console.log(`  ${s}`);
const t0 = Date.now();
const project = await canonicalProject();
console.log(`image ${project.image} (${project.build.cached ? 'cached' : `built in ${project.build.seconds.toFixed(0)} s`})`);

const samples: BootSample[] = [];
const only = process.env.BOOT_BENCH_SETUPS?.split(',') ?? ['ours', 'seed', 'openclaw'];
for (const setup of ['ours', 'seed'] as const) {
  if (!only.includes(setup)) continue;
  samples.push(...(await measureSetup(setup, project.dir, project.image, log)));
}
let openclawImage: string | undefined;
if (only.includes('openclaw')) {
  const oc = await openclawProject();
  openclawImage = oc.image;
  console.log(`openclaw image ${oc.image} (${oc.build.cached ? 'cached' : `built in ${oc.build.seconds.toFixed(0)} s`})`);
  samples.push(...(await measureSetup('openclaw', oc.dir, oc.image, log)));
}

console.log('');
console.log(formatTable(samples));
const get = (setup: string, boot: string) => samples.find((s) => s.setup === setup && s.boot === boot);
const ratio = (a?: number, b?: number) => (a !== undefined && b ? `${(a / b).toFixed(1)}×` : '?');
const oursRestart = get('ours', 'restart');
const seedRestart = get('seed', 'restart');
const oursFirst = get('ours', 'first');
const seedFirst = get('seed', 'first');
console.log('');
console.log(`seed / ours, first boot: time ${ratio(seedFirst?.seconds, oursFirst?.seconds)}, cgroup peak ${ratio(seedFirst?.peakMb, oursFirst?.peakMb)}`);
console.log(`seed / ours, restart:    time ${ratio(seedRestart?.seconds, oursRestart?.seconds)}, cgroup peak ${ratio(seedRestart?.peakMb, oursRestart?.peakMb)}`);
if (oursRestart) {
  const ok = oursRestart.seconds <= GOAL_RESTART_S && Math.max(oursRestart.peakMb, oursFirst?.peakMb ?? 0) <= GOAL_PEAK_MB;
  console.log(
    `goal (restart ≤ ${GOAL_RESTART_S} s, peak ≤ ${GOAL_PEAK_MB} MB): ${ok ? 'met' : 'NOT met'} ` +
      `(restart ${oursRestart.seconds} s; peaks ${oursFirst?.peakMb ?? '?'} / ${oursRestart.peakMb} MB)`,
  );
}
console.log('Times: container start → the gateway\'s own `listening` timestamp (openclaw: `http server listening`); the container create (a vfs rootfs copy, ~35 s here) is not included. Peaks: the container\'s memory cgroup (includes page cache) and the gateway\'s VmHWM.');
console.log(JSON.stringify({ bench: 'boot', image: project.image, openclawImage, samples, totalSeconds: Math.round((Date.now() - t0) / 1000) }));
