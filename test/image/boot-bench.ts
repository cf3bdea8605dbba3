/**
 * `npm run bench` → bench/boot.mjs → this file (run with vite-node, so it can use the TypeScript
 * harness). Builds the canonical image if needed, then measures a first boot and a restart for
 * our generated setup and for the seed's setup, one after another, then OpenClaw (openclaw-boot.ts):
 * the same runtime on the host (Node 24, cold then warm) and in its generated image (first boot,
 * restart, restart after a kill), with the gateway's own timer and the ratios to the warm host boot.
 * Prints the tables, the ratios of this one run, and one JSON line; exits 1 when an OpenClaw goal is
 * not met. BOOT_BENCH_SETUPS=openclaw measures OpenClaw only.
 */
import { cpus, loadavg } from 'node:os';
import { canonicalProject, openclawProject } from './project.js';
import { formatTable, measureSetup, type BootSample } from './boot.js';
import { hostBoots, imageBoots, openclawReport, type OpenclawBoot } from './openclaw-boot.js';

const GOAL_RESTART_S = 8;
const GOAL_PEAK_MB = 450;

const log = (s: string) => console.log(`  ${s}`);
const t0 = Date.now();
const only = process.env.BOOT_BENCH_SETUPS?.split(',') ?? ['ours', 'seed', 'openclaw'];
const project = only.includes('ours') || only.includes('seed') ? await canonicalProject() : undefined;
if (project) console.log(`image ${project.image} (${project.build.cached ? 'cached' : `built in ${project.build.seconds.toFixed(0)} s`})`);

const samples: BootSample[] = [];
for (const setup of ['ours', 'seed'] as const) {
  if (!only.includes(setup)) continue;
  samples.push(...(await measureSetup(setup, project!.dir, project!.image, log)));
}
let openclawImage: string | undefined;
let openclaw: ReturnType<typeof openclawReport> | undefined;
let openclawSamples: OpenclawBoot[] = [];
if (only.includes('openclaw')) {
  const oc = await openclawProject();
  openclawImage = oc.image;
  console.log(`openclaw image ${oc.image} (${oc.build.cached ? 'cached' : `built in ${oc.build.seconds.toFixed(0)} s`})`);
  // side by side, one after the other: the host's cold and warm boot, then the image's three
  openclawSamples = [...(await hostBoots(oc.dir, log)), ...(await imageBoots(oc.dir, oc.image, log))];
  openclaw = openclawReport(openclawSamples);
}

console.log('');
if (samples.length) console.log(formatTable(samples));
if (openclaw) {
  console.log(`\nOpenClaw (same runtime, config and keys), host vs the generated image, load average ${loadavg().map((n) => n.toFixed(1)).join(' / ')} on ${cpus().length} cores:`);
  console.log(openclaw.text);
}
const get = (setup: string, boot: string) => samples.find((s) => s.setup === setup && s.boot === boot);
const ratio = (a?: number, b?: number) => (a !== undefined && b ? `${(a / b).toFixed(1)}×` : '?');
const oursRestart = get('ours', 'restart');
const seedRestart = get('seed', 'restart');
const oursFirst = get('ours', 'first');
const seedFirst = get('seed', 'first');
if (oursFirst || seedFirst) console.log('');
if (oursFirst || seedFirst) console.log(`seed / ours, first boot: time ${ratio(seedFirst?.seconds, oursFirst?.seconds)}, cgroup peak ${ratio(seedFirst?.peakMb, oursFirst?.peakMb)}`);
if (oursRestart || seedRestart) console.log(`seed / ours, restart:    time ${ratio(seedRestart?.seconds, oursRestart?.seconds)}, cgroup peak ${ratio(seedRestart?.peakMb, oursRestart?.peakMb)}`);
if (oursRestart) {
  const ok = oursRestart.seconds <= GOAL_RESTART_S && Math.max(oursRestart.peakMb, oursFirst?.peakMb ?? 0) <= GOAL_PEAK_MB;
  console.log(
    `goal (restart ≤ ${GOAL_RESTART_S} s, peak ≤ ${GOAL_PEAK_MB} MB): ${ok ? 'met' : 'NOT met'} ` +
      `(restart ${oursRestart.seconds} s; peaks ${oursFirst?.peakMb ?? '?'} / ${oursRestart.peakMb} MB)`,
  );
}
console.log('Times: container start → the gateway\'s own `listening` timestamp (openclaw: `http server listening`); the container create (a vfs rootfs copy, ~35 s here) is not included. Peaks: the container\'s memory cgroup (includes page cache) and the gateway\'s VmHWM.');
console.log(JSON.stringify({ bench: 'boot', image: project?.image, openclawImage, samples, openclaw: openclaw && { samples: openclawSamples.map(({ line: _line, ...rest }) => rest), ratios: openclaw.ratios, ok: openclaw.ok, loadavg: loadavg() }, totalSeconds: Math.round((Date.now() - t0) / 1000) }));
if (openclaw && !openclaw.ok) process.exitCode = 1;
