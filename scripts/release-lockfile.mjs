#!/usr/bin/env node
/**
 * Generates the pinned lockfile of a runtime row: templates/runtime/<id>.package-lock.json.
 *
 *   npm run build && node scripts/release-lockfile.mjs openclaw@2026.9.5 [--check]
 *
 * The package.json is the one `clawdfly init` writes for the row (dist/project/render.js, so the
 * lockfile's root entry always matches it); `npm install --package-lock-only` resolves it against the
 * registry without installing, with no `resolved` URLs (the image's npm ci takes the registry it is
 * given) and no install scripts. The package's `engines.node` must accept the row's Node major.
 * `--check` regenerates into a temp folder and exits 1 when the committed file differs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const [id, ...flags] = process.argv.slice(2);
if (!id || !/^[a-z0-9-]+@\d/.test(id)) {
  console.error('usage: node scripts/release-lockfile.mjs <package>@<version> [--check]   (a row of src/gateway/runtime.ts; run npm run build first)');
  process.exit(2);
}
const { findRuntime } = await import(join(ROOT, 'dist/gateway/runtime.js'));
const { runtimePackageJson } = await import(join(ROOT, 'dist/project/render.js'));
const runtime = findRuntime(id);
if (!runtime) {
  console.error(`${id} is not a row of src/gateway/runtime.ts (add the row first, then npm run build)`);
  process.exit(2);
}

const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });

const engines = JSON.parse(npm(['view', `${runtime.packageName}@${runtime.packageVersion}`, 'engines', '--json'], ROOT) || '{}');
console.log(`${id}: engines ${JSON.stringify(engines)}; the row's image runs Node ${runtime.nodeMajor}`);

const work = mkdtempSync(join(tmpdir(), 'clawdfly-lockfile-'));
try {
  writeFileSync(join(work, 'package.json'), runtimePackageJson(runtime));
  npm(['install', '--package-lock-only', '--ignore-scripts', '--omit-lockfile-registry-resolved', '--no-audit', '--no-fund'], work);
  const lock = readFileSync(join(work, 'package-lock.json'), 'utf8');
  const target = join(ROOT, 'templates', 'runtime', `${id}.package-lock.json`);
  if (flags.includes('--check')) {
    const committed = readFileSync(target, 'utf8');
    if (committed !== lock) {
      console.error(`${target} differs from a fresh resolution (a dependency published a new version in range?)`);
      process.exit(1);
    }
    console.log(`${target} is current`);
  } else {
    writeFileSync(target, lock);
    console.log(`wrote ${target} (${Object.keys(JSON.parse(lock).packages).length - 1} packages)`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
