#!/usr/bin/env node
/**
 * Generates the pinned lockfile of a runtime row: templates/runtime/<id>.package-lock.json.
 *
 *   node scripts/release-lockfile.mjs openclaw@2026.9.5 [--check]
 *
 * The lockfile is made by generateRuntimeLockfile (src/project/runtime-release.ts), the one function
 * that makes a release's lockfile: the same one `init --runtime openclaw@<a release with no row>`
 * runs. It resolves the package.json `clawdfly init` writes for the row (so the lockfile's root entry
 * always matches it) with `npm install --package-lock-only`: no `resolved` URLs (the image's npm ci
 * takes the registry it is given), no install scripts. The package's `engines.node` must admit the
 * row's Node. `--check` regenerates it and exits 1 when the committed file differs.
 */
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const [id, ...flags] = process.argv.slice(2);
if (!id || !/^[a-z0-9-]+@\d/.test(id)) {
  console.error('usage: node scripts/release-lockfile.mjs <package>@<version> [--check]   (a row of src/gateway/runtime.ts)');
  process.exit(2);
}

// The sources themselves (dist/ is one bundle): bundled into a temp module and imported.
const work = mkdtempSync(join(tmpdir(), 'clawdfly-release-lockfile-'));
let lib;
try {
  const entry = "export { RUNTIMES, enginesProblem } from './src/gateway/runtime.ts'; export { generateRuntimeLockfile, npmRegistry } from './src/project/runtime-release.ts';";
  const out = await build({ stdin: { contents: entry, resolveDir: ROOT, loader: 'ts' }, bundle: true, write: false, format: 'esm', platform: 'node', logLevel: 'warning', banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" } });
  writeFileSync(join(work, 'release-lockfile.mjs'), out.outputFiles[0].text);
  lib = await import(pathToFileURL(join(work, 'release-lockfile.mjs')).href);
} finally {
  rmSync(work, { recursive: true, force: true });
}

const runtime = lib.RUNTIMES[id];
if (!runtime) {
  console.error(`${id} is not a row of src/gateway/runtime.ts (add the row first)`);
  process.exit(2);
}
const registry = lib.npmRegistry();
const published = await registry.view(runtime.packageName, runtime.packageVersion);
if (!published) {
  console.error(`${id} is not published on the registry`);
  process.exit(1);
}
console.log(`${id}: engines ${JSON.stringify(published.engines ?? {})}; the row's image runs Node ${runtime.nodeMajor}`);
const problem = lib.enginesProblem(runtime, published.engines?.node);
if (problem) {
  console.error(`${id}: ${problem}`);
  process.exit(1);
}
const lock = await lib.generateRuntimeLockfile(runtime, registry);
const target = join(ROOT, 'templates', 'runtime', `${id}.package-lock.json`);
if (flags.includes('--check')) {
  if (readFileSync(target, 'utf8') !== lock) {
    console.error(`${target} differs from a fresh resolution (a dependency published a new version in range?)`);
    process.exit(1);
  }
  console.log(`${target} is current`);
} else {
  writeFileSync(target, lock);
  console.log(`wrote ${target} (${Object.keys(JSON.parse(lock).packages).length - 1} packages)`);
}
