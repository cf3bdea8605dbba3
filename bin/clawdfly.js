#!/usr/bin/env node
import module from 'node:module';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
/**
 * `clawdfly --help` alone: the page the build rendered from the command specs (dist/help.txt, see
 * scripts/build.mjs), printed without loading the CLI — the command most people run first starts
 * as fast as node itself. Not on a terminal narrower than the page (the CLI wraps it to fit there).
 */
function printBuiltHelp() {
  if (args.length !== 1 || (args[0] !== '--help' && args[0] !== '-h')) return false;
  if (process.stdout.isTTY && process.stdout.columns < 80) return false;
  let page;
  try {
    page = readFileSync(new URL('../dist/help.txt', import.meta.url), 'utf8');
  } catch {
    return false; // a build without it (being built): the CLI renders the page
  }
  process.stdout.write(page);
  return true;
}

if (!printBuiltHelp()) {
  // Node ≥ 22.1 keeps the compiled bundle in its on-disk cache: later starts skip parsing it.
  module.enableCompileCache?.();
  // dist/ is a bundle; its source maps turn a stack trace back into src/ file names and lines.
  // Read only when asked (--verbose or CLAWDFLY_DEBUG=1): loading them costs every cold start.
  if (process.argv.includes('--verbose') || process.env.CLAWDFLY_DEBUG) process.setSourceMapsEnabled(true);
  const { main } = await import('../dist/cli.js');
  await main();
}
