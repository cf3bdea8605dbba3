#!/usr/bin/env node
/**
 * Cold start of `clawdfly --help`: the median wall time of N fresh processes (node bin/clawdfly.js
 * --help), next to a bare `node -e 0` baseline measured interleaved with it (so a busy machine
 * slows both alike). Target: median ≤ 150 ms.
 *
 *   node bench/help.mjs [--runs 20] [--strict] [--json]
 *   --strict  exit 1 when the median is over the target   --json  print one JSON document
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/clawdfly.js', import.meta.url));
const TARGET_MS = 150;

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const runsArg = argv.indexOf('--runs');
const RUNS = Math.max(10, Number(runsArg >= 0 ? argv[runsArg + 1] : process.env.BENCH_RUNS ?? 20) || 20);
const WARMUP = 2;

if (!existsSync(new URL('../dist/cli.js', import.meta.url))) {
  console.error('dist/ is missing: run `npm run build` first (or `npm run bench`, which builds)');
  process.exit(2);
}

/**
 * CPU time (user + sys) of this process's waited-for children, in clock ticks (Linux: fields 16–17
 * of /proc/self/stat). Less sensitive to a busy machine than wall time; 10 ms resolution, so only
 * its mean over many runs is reported.
 */
function childTicks() {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    return Number(fields[13]) + Number(fields[14]);
  } catch {
    return undefined;
  }
}
const TICK_MS = 10; // USER_HZ is 100 on Linux

/** Wall time of one process, in ms; fails loudly if the process does. Adds its CPU ticks to c.ticks. */
function time(c) {
  const ticks = childTicks();
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, c.args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`node ${c.args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const after = childTicks();
  if (ticks !== undefined && after !== undefined) c.ticks += after - ticks;
  return ms;
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))];
function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length / 2;
  const median = s.length % 2 ? s[Math.floor(mid)] : (s[mid - 1] + s[mid]) / 2;
  return { runs: s.length, min: s[0], median, p90: quantile(s, 0.9), max: s[s.length - 1] };
}

const cases = [
  { name: 'node -e 0 (baseline)', args: ['-e', '0'], samples: [], ticks: 0 },
  { name: 'clawdfly --help', args: [BIN, '--help'], samples: [], ticks: 0 },
];
for (let i = 0; i < WARMUP; i++) for (const c of cases) time(c);
for (const c of cases) c.ticks = 0;
for (let i = 0; i < RUNS; i++) for (const c of cases) c.samples.push(time(c));

const hasCpu = childTicks() !== undefined;
const [base, help] = cases.map((c) => ({ name: c.name, ...stats(c.samples), cpuMean: hasCpu ? (c.ticks * TICK_MS) / RUNS : undefined }));
const result = {
  bench: 'help',
  node: process.version,
  runs: RUNS,
  baseline: base,
  help,
  overheadMs: help.median - base.median,
  ratio: help.median / base.median,
  targetMs: TARGET_MS,
  ok: help.median <= TARGET_MS,
};

if (flag('--json')) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const f = (n) => n.toFixed(1).padStart(7);
  console.log(`\nclawdfly --help cold start (${RUNS} runs each, interleaved, ${WARMUP} warm-up; node ${process.version})\n`);
  console.log(`${'command'.padEnd(24)}${'min'.padStart(7)}${'median'.padStart(8)}${'p90'.padStart(7)}${'max'.padStart(7)}${'cpu'.padStart(8)}   (ms; cpu = mean user+sys)`);
  for (const row of [base, help]) console.log(`${row.name.padEnd(24)}${f(row.min)} ${f(row.median)}${f(row.p90)}${f(row.max)} ${row.cpuMean === undefined ? '      –' : f(row.cpuMean)}`);
  console.log(`\nmedian ${help.median.toFixed(1)} ms = ${result.ratio.toFixed(2)}× node's own start (+${result.overheadMs.toFixed(1)} ms for clawdfly)`);
  const load = (await import('node:os')).loadavg()[0];
  if (load > 2) console.log(`(load average ${load.toFixed(1)}: wall times are inflated; compare the ratio and cpu column)`);
  console.log(result.ok ? `✔ within the ${TARGET_MS} ms target` : `! over the ${TARGET_MS} ms target`);
}
if (!result.ok && flag('--strict')) process.exit(1);
