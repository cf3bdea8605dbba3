#!/usr/bin/env node
/**
 * Runs every bench/*.mjs except this file, one after another (never in parallel: they measure
 * time), and exits non-zero if any of them failed. Arguments are passed to each bench.
 *   npm run bench            (builds first)
 *   node bench/run.mjs help  (only benches whose name contains "help")
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('.', import.meta.url));
const self = basename(fileURLToPath(import.meta.url));
const [filter, ...rest] = process.argv.slice(2);
const only = filter && !filter.startsWith('-') ? filter : undefined;
const passArgs = only ? rest : process.argv.slice(2);

const benches = readdirSync(DIR)
  .filter((f) => f.endsWith('.mjs') && f !== self && !f.startsWith('_'))
  .filter((f) => !only || f.includes(only))
  .sort();

if (benches.length === 0) {
  console.error(`no benches found in ${DIR}${only ? ` matching "${only}"` : ''}`);
  process.exit(2);
}

const results = [];
for (const file of benches) {
  console.log(`\n━━ bench/${file} ━━`);
  const started = Date.now();
  const r = spawnSync(process.execPath, [join(DIR, file), ...passArgs], { stdio: 'inherit' });
  results.push({ file, code: r.status ?? 1, s: (Date.now() - started) / 1000 });
}

console.log('\n━━ summary ━━');
for (const r of results) console.log(`${r.code === 0 ? '✔' : '✖'} bench/${r.file}  (exit ${r.code}, ${r.s.toFixed(1)} s)`);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
