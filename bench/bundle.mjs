#!/usr/bin/env node
/**
 * What shipping a bundle buys, side by side in one run:
 *   1. `clawdfly --help` wall time against a bare `node -e 0` (target ≤ 1.3×), interleaved;
 *   2. `doctor --offline` CPU time, the bundle (dist/) against the same source compiled file by
 *      file with tsc into a scratch folder (what clawdfly shipped before the bundle; target ≤ 0.6×);
 *   3. `npm pack` → `npm install <tgz>` in an empty folder: how many packages land (target ≤ 3).
 *
 *   node bench/bundle.mjs [--runs 20] [--baseline <git ref> | --baseline HEAD] [--node <path>]...
 *     (needs `npm run build` first; `npm run bench` builds)
 *
 * `--baseline <ref>`: the unbundled build is that commit as a user installed it (its tree, its
 * runtime dependencies from its own lockfile, its src/ compiled with tsc) instead of the checkout's
 * source. Lazy loading in the source (doctor --offline no longer loads zod) cuts the bundle and
 * the unbundled build of the same source alike; against the CLI a user had, the ratio says what
 * they gain. `--baseline 5bf1a08` is the clawdfly the issue measured (before the bundle: execa,
 * ora, zod as dependencies, 76 packages).
 * `--node <path>` (repeatable): also run the --help and doctor rows under that node binary (Node 20
 * has no compile cache; Node 24 keeps the parsed bundle on disk), printed as one more block each.
 * Without it, the newest node in the test cache (~/.cache/clawdfly-test/node) of another major is used.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'clawdfly.js');
const argv = process.argv.slice(2);
const runsAt = argv.indexOf('--runs');
const RUNS = Math.max(10, Number(runsAt >= 0 ? argv[runsAt + 1] : 20) || 20);
const baselineAt = argv.indexOf('--baseline');
/**
 * The CLI the issue measured before the bundle (main when issue 34 was filed: execa, ora, zod …
 * as dependencies, 76 packages). Used when this clone has that commit (a full clone does);
 * `--baseline HEAD` compares with the checkout's own source compiled file by file instead.
 */
const ISSUE_BASELINE = '5bf1a08';
const hasCommit = (ref) => spawnSync('git', ['cat-file', '-e', `${ref}^{commit}`], { cwd: ROOT }).status === 0;
const BASELINE = baselineAt >= 0 ? (argv[baselineAt + 1] === 'HEAD' ? undefined : argv[baselineAt + 1]) : hasCommit(ISSUE_BASELINE) ? ISSUE_BASELINE : undefined;
const extraNodes = argv.flatMap((a, i) => (a === '--node' && argv[i + 1] ? [argv[i + 1]] : []));
const NODES = [process.execPath, ...(extraNodes.length ? extraNodes : cachedNewerNode())];

/** The newest node the test cache holds (~/.cache/clawdfly-test/node/<version>/bin/node), when its major differs from this one's. */
function cachedNewerNode() {
  const dir = join(homedir(), '.cache', 'clawdfly-test', 'node');
  const major = (v) => Number(v.replace(/^v/, '').split('.')[0]);
  const versions = existsSync(dir) ? readdirSync(dir).filter((v) => /^\d+\.\d+\.\d+$/.test(v) && existsSync(join(dir, v, 'bin', 'node'))) : [];
  const newest = versions.sort((a, b) => major(b) - major(a) || b.localeCompare(a, undefined, { numeric: true }))[0];
  return newest && major(newest) !== major(process.version) ? [join(dir, newest, 'bin', 'node')] : [];
}

if (!existsSync(join(ROOT, 'dist', 'meta.json'))) {
  console.error('dist/ is missing or not a bundle: run `npm run build` first (or `npm run bench`, which builds)');
  process.exit(2);
}

/** CPU ticks (user + sys, 10 ms each) of this process's waited-for children (Linux /proc). */
function childTicks() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return Number(fields[13]) + Number(fields[14]);
}

function measure(c) {
  const ticks = childTicks();
  const start = process.hrtime.bigint();
  const r = spawnSync(c.node ?? process.execPath, c.args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0 && !c.anyExit) throw new Error(`node ${c.args.join(' ')} exited ${r.status}: ${r.stderr}`);
  c.ticks += childTicks() - ticks;
  c.samples.push(ms);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function sideBySide(cases) {
  for (const c of cases) measure(Object.assign(c, { samples: [], ticks: 0 })); // warm-up: the page cache, not the timings
  for (const c of cases) Object.assign(c, { samples: [], ticks: 0 });
  for (let i = 0; i < RUNS; i++) for (const c of cases) measure(c);
  return cases.map((c) => ({ name: c.name, medianMs: median(c.samples), cpuMs: (c.ticks * 10) / RUNS }));
}

// The unbundled build lives in a scratch folder inside the checkout.
const scratch = mkdtempSync(join(ROOT, '.bench-unbundled-'));
try {
  let unbundledBin;
  if (BASELINE) {
    // That commit as a user installed it: its whole tree, its runtime dependencies (npm ci
    // --omit=dev, from its own lockfile: execa, zod … as they were), its src/ compiled with tsc.
    const tree = join(scratch, 'tree');
    mkdirSync(tree);
    const archive = spawnSync('sh', ['-c', 'git archive "$1" | tar -x -C "$2"', 'sh', BASELINE, tree], { cwd: ROOT, encoding: 'utf8' });
    if (archive.status !== 0) throw new Error(`git archive ${BASELINE} failed: ${archive.stderr}`);
    const deps = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: tree, encoding: 'utf8' });
    if (deps.status !== 0) throw new Error(`npm ci --omit=dev in ${BASELINE} failed: ${deps.stderr}`);
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(tree, 'tsconfig.json'), '--outDir', join(tree, 'dist'), '--typeRoots', join(ROOT, 'node_modules', '@types')], { cwd: tree, encoding: 'utf8' });
    if (tsc.status !== 0 && !existsSync(join(tree, 'dist', 'cli.js'))) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
    unbundledBin = join(tree, 'bin', 'clawdfly.js');
  } else {
    // The same source, compiled file by file (tsc) into a scratch folder inside the checkout, so its
    // imports resolve the checkout's node_modules and its assets the checkout's templates/.
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--outDir', join(scratch, 'dist')], { cwd: ROOT, encoding: 'utf8' });
    if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
    mkdirSync(join(scratch, 'bin'));
    writeFileSync(join(scratch, 'bin', 'clawdfly.js'), "const { main } = await import('../dist/cli.js');\nawait main();\n");
    unbundledBin = join(scratch, 'bin', 'clawdfly.js');
  }

  const project = join(mkdtempSync(join(tmpdir(), 'clawdfly-bench-bundle-')), 'g');
  const init = spawnSync(process.execPath, [BIN, 'init', '--yes', '--runtime', 'openclaw', '--dir', project, '--app', 'bench-bundle'], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`);

  const blocks = NODES.map((node) => {
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const help = sideBySide([
      { name: 'node -e 0', args: ['-e', '0'], node },
      { name: 'clawdfly --help (bundle)', args: [BIN, '--help'], node },
      { name: 'clawdfly --help (tsc files)', args: [unbundledBin, '--help'], node },
    ]);
    // doctor --offline exits 1 when a check fails; the work it does is the same either way.
    const doctor = sideBySide([
      { name: 'doctor --offline (bundle)', args: [BIN, 'doctor', '--offline', '--dir', project], anyExit: true, node },
      { name: 'doctor --offline (tsc files)', args: [unbundledBin, 'doctor', '--offline', '--dir', project], anyExit: true, node },
    ]);
    return { version, help, doctor };
  });

  const packDir = mkdtempSync(join(tmpdir(), 'clawdfly-bench-pack-'));
  const pack = spawnSync('npm', ['pack', '--pack-destination', packDir, '--ignore-scripts', '--json'], { cwd: ROOT, encoding: 'utf8' });
  if (pack.status !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const tgz = join(packDir, JSON.parse(pack.stdout)[0].filename);
  const app = join(packDir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{"name":"bench-app","version":"1.0.0","private":true}\n');
  const install = spawnSync('npm', ['install', tgz, '--no-audit', '--no-fund'], { cwd: app, encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`npm install <tgz> failed: ${install.stderr}`);
  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
  const installed = Object.keys(lock.packages).filter((p) => p.startsWith('node_modules/'));
  const runs = spawnSync(join(app, 'node_modules', '.bin', 'clawdfly'), ['--version'], { encoding: 'utf8' });

  const f = (n) => n.toFixed(1).padStart(8);
  const unbundledLabel = BASELINE ? `the unbundled build of ${BASELINE}` : 'the unbundled build';
  for (const { version, help, doctor } of blocks) {
    console.log(`\nbundle vs node and vs ${unbundledLabel} (${RUNS} runs each, interleaved; node ${version})\n`);
    console.log(`${'command'.padEnd(32)}${'median'.padStart(8)}${'cpu'.padStart(9)}   (ms; cpu = mean user+sys)`);
    for (const row of [...help, ...doctor]) console.log(`${row.name.padEnd(32)}${f(row.medianMs)} ${f(row.cpuMs)}`);
    const helpRatio = help[1].medianMs / help[0].medianMs;
    const doctorRatio = doctor[0].cpuMs / doctor[1].cpuMs;
    console.log(`\n--help: ${helpRatio.toFixed(2)}× node -e 0 (target ≤ 1.30; unbundled ${(help[2].medianMs / help[0].medianMs).toFixed(2)}×)`);
    // CPU time is less swayed than wall time by other processes on a busy machine.
    console.log(`--help CPU: ${(help[1].cpuMs / help[0].cpuMs).toFixed(2)}× node -e 0 (unbundled ${(help[2].cpuMs / help[0].cpuMs).toFixed(2)}×)`);
    console.log(`doctor --offline CPU: ${doctorRatio.toFixed(2)}× ${unbundledLabel} (target ≤ 0.60)`);
  }
  console.log(`npm install <packed tgz>: ${installed.length} package(s) (${installed.map((p) => p.slice('node_modules/'.length)).join(', ')}); --version ${runs.stdout.trim() || `failed: ${runs.stderr}`} (target ≤ 3)`);
  const load = (await import('node:os')).loadavg()[0];
  if (load > 1.5) console.log(`(load average ${load.toFixed(1)}: compare the ratios, not the times)`);
  rmSync(packDir, { recursive: true, force: true });
  rmSync(join(project, '..'), { recursive: true, force: true });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
