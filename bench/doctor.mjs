#!/usr/bin/env node
// Doctor's wall time against its slowest single probe, with FAKEFLY_LATENCY_MS=L added to every
// flyctl call (the double). Probes run in parallel, so the ratio should stay ≤ 1.5.
//
//   node bench/doctor.mjs [L ...]        (default: 500 1000 2000; needs `npm run build` first)
//   BENCH_RUNS=3 node bench/doctor.mjs 1000
//
// For each L: doctor's wall (median of BENCH_RUNS runs of the real binary, `doctor --json`), and
// each probe's flyctl argv (taken from the double's invocation log of that doctor run) replayed
// alone; slowest = the largest of those. Prints one JSON line per L and a summary table.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFakeFly } from '../test/fakefly/control.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'clawdfly.js');
const APP = 'bench-claw';
const RUNS = Number(process.env.BENCH_RUNS || 3);
const LATENCIES = process.argv.slice(2).map(Number).filter((n) => n >= 0);
if (!LATENCIES.length) LATENCIES.push(500, 1000, 2000);

function run(cmd, args, { env, cwd, input = '' } = {}) {
  return new Promise((resolvePromise) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolvePromise({ code, stdout, stderr, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    child.stdin.end(input);
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function setup() {
  const work = mkdtempSync(join(tmpdir(), 'clawdfly-bench-doctor-'));
  const dir = join(work, 'gateway');
  const init = await run(process.execPath, [BIN, 'init', '--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', APP, '--region', 'iad'], {
    env: { ...process.env, CI: 'true', NO_COLOR: '1', ANTHROPIC_API_KEY: 'bench-anthropic-0123456789abcdef', OPENAI_API_KEY: 'bench-openai-0123456789abcdef' },
  });
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const fake = createFakeFly({ dir: join(work, 'fakefly'), env: { FAKEFLY_BOOT_LOGS: '1' } });
  const fly = async (args, input) => {
    const r = await run('flyctl', args, { env: fake.env, cwd: dir, input });
    if (r.code !== 0) throw new Error(`flyctl ${args.join(' ')}: ${r.stderr}`);
  };
  await fly(['apps', 'create', APP]);
  const secrets = readFileSync(join(dir, '.clawdfly', 'secrets.env'), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).join('\n') + '\n';
  await fly(['secrets', 'import', '-a', APP], secrets);
  await fly(['deploy', '-a', APP, '-c', 'fly.toml', '--ha=false', '--remote-only', '-y']);
  const id = fake.machines(APP)[0].id;
  const remote = fake.machineFsPath(APP, id, '/data/clawdbot.json');
  mkdirSync(dirname(remote), { recursive: true });
  writeFileSync(remote, readFileSync(join(dir, 'clawdbot.json')));
  return { work, dir, fake };
}

async function measure({ dir, fake }, latency) {
  const env = { ...fake.env, FAKEFLY_LATENCY_MS: String(latency), CI: 'true', NO_COLOR: '1' };
  const walls = [];
  let probeArgvs = [];
  for (let i = 0; i < RUNS; i++) {
    const before = fake.invocations().length;
    const r = await run(process.execPath, [BIN, 'doctor', '--dir', dir, '--json'], { env });
    if (r.code !== 0) throw new Error(`doctor exit ${r.code}: ${r.stdout}${r.stderr}`);
    walls.push(r.ms);
    probeArgvs = fake.invocations().slice(before).map((inv) => inv.argv);
  }
  const probes = [];
  for (const argv of probeArgvs) {
    const times = [];
    for (let i = 0; i < RUNS; i++) times.push((await run('flyctl', argv, { env, cwd: dir })).ms);
    probes.push({ probe: argv.slice(0, 2).join(' '), ms: Math.round(median(times)) });
  }
  const slowest = probes.reduce((a, b) => (b.ms > a.ms ? b : a));
  const wall = median(walls);
  // What the same probes cost one after another (a doctor without parallel probes).
  const sequentialMs = probes.reduce((sum, p) => sum + p.ms, 0);
  return { latencyMs: latency, doctorWallMs: Math.round(wall), slowestProbe: slowest.probe, slowestProbeMs: slowest.ms, ratio: Number((wall / slowest.ms).toFixed(2)), target: 1.5, sequentialMs, overheadMs: Math.round(wall - slowest.ms), probes };
}

const ctx = await setup();
const results = [];
try {
  for (const latency of LATENCIES) {
    const r = await measure(ctx, latency);
    results.push(r);
    console.log(JSON.stringify({ bench: 'doctor', ...r }));
  }
} finally {
  rmSync(ctx.work, { recursive: true, force: true });
}
console.log('\ndoctor: wall vs slowest single probe (FAKEFLY_LATENCY_MS = L)');
console.log('  L ms   doctor ms   slowest probe           ms   ratio (target ≤ 1.5)   probes one by one ms');
for (const r of results) {
  console.log(`  ${String(r.latencyMs).padStart(4)}   ${String(r.doctorWallMs).padStart(9)}   ${r.slowestProbe.padEnd(20)} ${String(r.slowestProbeMs).padStart(5)}   ${r.ratio.toFixed(2)}${r.ratio <= 1.5 ? '    ' : '  ✖ '}              ${r.sequentialMs}`);
}
process.exitCode = results.every((r) => r.ratio <= 1.5) ? 0 : 1;
