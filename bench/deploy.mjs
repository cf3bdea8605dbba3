#!/usr/bin/env node
/**
 * A first `clawdfly deploy` against the flyctl double with FAKEFLY_LATENCY_MS=L on every flyctl
 * call. Figure: deploy wall time / (L × the number of flyctl calls on the dependent chain), where
 * the chain is measured, not assumed: the longest sequence of recorded calls each of which started
 * after the previous one ended (calls that ran side by side count once). 1.00 would mean clawdfly
 * adds nothing but flyctl's own latency. Target ≤ 1.15. Also printed: the number of flyctl calls and
 * machine restarts of a first deploy, and the calls and remote mutations of an unchanged re-run.
 * L defaults to 3000 ms, about what one real flyctl call costs (ssh console ≈ 3.5 s). Every call of
 * the double first starts a Node process (a Go flyctl does not), so a second figure leaves that
 * start-up out; on a busy machine both rise because process start-up slows down.
 *
 *   node bench/deploy.mjs [--latency 3000] [--runs 3] [--strict] [--json]
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFakeFly } from '../test/fakefly/control.mjs';
import { mayWrite } from '../test/support/fly-writes.mjs';

const BIN = fileURLToPath(new URL('../bin/clawdfly.js', import.meta.url));
const TARGET = 1.15;
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return Number(i >= 0 ? argv[i + 1] : fallback);
};
const L = opt('--latency', process.env.BENCH_LATENCY_MS ?? 3000);
const RUNS = Math.max(1, opt('--runs', process.env.BENCH_DEPLOY_RUNS ?? 3));

if (!existsSync(new URL('../dist/cli.js', import.meta.url))) {
  console.error('dist/ is missing: run `npm run build` first (or `npm run bench`, which builds)');
  process.exit(2);
}

// Anything not on the read-only allow-list counts as a write (shared with test/deploy).
const isMutation = mayWrite;

/** Longest run of calls where each starts after the previous ended (ms timestamps; 2 ms slack). */
function dependentChain(invocations) {
  const calls = invocations
    .map((inv) => ({ name: inv.argv.slice(0, 2).join(' '), start: Date.parse(inv.ts), end: Date.parse(inv.ts) + inv.elapsedMs }))
    .sort((a, b) => a.end - b.end);
  const best = calls.map(() => ({ n: 1, prev: -1 }));
  for (let j = 0; j < calls.length; j++) {
    for (let i = 0; i < j; i++) {
      if (calls[i].end <= calls[j].start + 2 && best[i].n + 1 > best[j].n) best[j] = { n: best[i].n + 1, prev: i };
    }
  }
  let at = best.reduce((m, b, i) => (b.n > best[m].n ? i : m), 0);
  const chain = [];
  while (at >= 0 && calls.length) {
    chain.unshift(calls[at]);
    at = best[at].prev;
  }
  return chain;
}

/** Where the wall time outside the chain's flyctl calls went (from the double's own clock). */
function outside(chain, startedAt, endedAt) {
  if (!chain.length) return { before: 0, between: 0, after: 0 };
  let between = 0;
  for (let i = 1; i < chain.length; i++) between += chain[i].start - chain[i - 1].end;
  return { before: chain[0].start - startedAt, between, after: endedAt - chain[chain.length - 1].end };
}

function runCli(args, env) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const startedAt = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Number(process.hrtime.bigint() - started) / 1e6, startedAt, endedAt: Date.now() }));
    child.stdin.end();
  });
}

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>Clawdbot Control</title>');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

/** Wall time of one no-latency call of the double: its own Node start-up, which a Go flyctl does not pay. */
function doubleStartMs(env) {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    // its own state dir: these calls must not show up in the deploy's invocation log
    const r = spawnSync('flyctl', ['version', '--json'], { env: { ...env, FAKEFLY_LATENCY_MS: '0', FAKEFLY_STATE: `${env.FAKEFLY_STATE}-startup` }, stdio: 'ignore' });
    if (r.status !== 0) throw new Error('the double does not run');
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return times.sort((a, b) => a - b)[2];
}

const samples = [];
for (let run = 0; run < RUNS; run++) {
  const root = mkdtempSync(join(tmpdir(), 'clawdfly-bench-deploy-'));
  const dir = join(root, 'gateway');
  const init = spawnSync(process.execPath, [BIN, 'init', '--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'bench-claw', '--region', 'iad'], {
    env: { ...process.env, CI: 'true', NO_COLOR: '1', ANTHROPIC_API_KEY: 'bench-anthropic-5c1d7e9a3b', OPENAI_API_KEY: 'bench-openai-8e2f4a6c0d' },
    encoding: 'utf8',
  });
  if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`);
  const fake = createFakeFly({
    dir: join(root, 'fly'),
    env: { FAKEFLY_LATENCY_MS: String(L), FAKEFLY_BOOT_LOGS: '1', FAKEFLY_LOGS_EMPTY_EXIT: '1', CLAWDFLY_APP_URL: url, CI: 'true' },
  });
  try {
    const startBefore = doubleStartMs(fake.env);
    const first = await runCli(['deploy', '--dir', dir, '--yes', '--json'], fake.env);
    const startMs = (startBefore + doubleStartMs(fake.env)) / 2;
    if (first.code !== 0) throw new Error(`deploy failed (${first.code}): ${first.stderr}`);
    const invocations = fake.invocations();
    const chain = dependentChain(invocations);
    const restarts = fake.restarts();
    const again = await runCli(['deploy', '--dir', dir, '--yes', '--json'], fake.env);
    if (again.code !== 0) throw new Error(`re-run failed (${again.code}): ${again.stderr}`);
    const rerun = fake.invocations().slice(invocations.length);
    samples.push({
      wallMs: first.ms,
      calls: invocations.length,
      chain: chain.map((c) => c.name),
      outside: outside(chain, first.startedAt, first.endedAt),
      ratio: first.ms / (L * chain.length),
      doubleStartMs: startMs,
      corrected: first.ms / ((L + startMs) * chain.length),
      restarts,
      rerun: { wallMs: again.ms, calls: rerun.length, chain: dependentChain(rerun).length, mutations: rerun.filter(isMutation).map((i) => i.argv.slice(0, 2).join(' ')) },
    });
  } finally {
    fake.cleanup();
    rmSync(root, { recursive: true, force: true });
    rmSync(`${fake.dir}-startup`, { recursive: true, force: true });
  }
}
server.close();

const sorted = [...samples].sort((a, b) => a.ratio - b.ratio);
const median = sorted[Math.floor((sorted.length - 1) / 2)];
const result = {
  bench: 'deploy',
  latencyMs: L,
  runs: RUNS,
  ratio: median.ratio,
  ratios: samples.map((s) => Number(s.ratio.toFixed(3))),
  doubleStartMs: Math.round(median.doubleStartMs),
  ratioWithoutDoubleStart: median.corrected,
  wallMs: Math.round(median.wallMs),
  chainCalls: median.chain.length,
  chain: median.chain,
  /** ms: clawdfly start-up + the burst of parallel start-ups of the double, then the gaps, then the end. */
  outsideCallsMs: median.outside,
  flyctlCalls: median.calls,
  machineRestarts: median.restarts,
  rerun: median.rerun,
  target: TARGET,
  ok: median.ratio <= TARGET,
};

if (flag('--json')) {
  console.log(JSON.stringify(result, null, 2));
} else {
  console.log(`\nfirst deploy against the flyctl double, FAKEFLY_LATENCY_MS=${L} (median of ${RUNS}; node ${process.version})\n`);
  console.log(`  wall time            ${(result.wallMs / 1000).toFixed(2)} s`);
  console.log(`  dependent chain      ${result.chainCalls} flyctl calls: ${result.chain.join(' → ')}`);
  console.log(`  figure               ${result.ratio.toFixed(3)} = wall / (L × chain)   [runs: ${result.ratios.join(', ')}]   target ≤ ${TARGET}`);
  console.log(`  without the double's start-up   ${result.ratioWithoutDoubleStart.toFixed(3)} = wall / ((L + ${result.doubleStartMs} ms) × chain)   (each call of the double first starts Node; a Go flyctl does not)`);
  const o = result.outsideCallsMs;
  console.log(`  outside the chain's calls      ${((o.before + o.between + o.after) / 1000).toFixed(2)} s: ${(o.before / 1000).toFixed(2)} s before the first (clawdfly's start-up and local checks, then parallel start-ups of the double), ${(o.between / 1000).toFixed(2)} s between calls (each: the double's exit + clawdfly's work + the next start-up), ${(o.after / 1000).toFixed(2)} s after the last`);
  console.log(`  flyctl calls         ${result.flyctlCalls}`);
  console.log(`  machine restarts     ${result.machineRestarts}`);
  console.log(`  unchanged re-run     ${(result.rerun.wallMs / 1000).toFixed(2)} s, ${result.rerun.calls} flyctl calls (chain ${result.rerun.chain}), remote mutations: ${result.rerun.mutations.length ? result.rerun.mutations.join(', ') : 'none'}`);
  const load = loadavg()[0];
  if (load > 2) console.log(`  (load average ${load.toFixed(1)}: process start-up is slow, which inflates the figure)`);
  console.log(result.ok ? `✔ within the ${TARGET} target` : `! over the ${TARGET} target`);
}
if (!result.ok && flag('--strict')) process.exit(1);
