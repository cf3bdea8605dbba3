#!/usr/bin/env node
import module from 'node:module';

// Node ≥ 22.1 keeps the compiled bundle in its on-disk cache: later starts skip parsing it.
module.enableCompileCache?.();
// dist/ is a bundle; its source maps turn a stack trace back into src/ file names and lines.
// Read only when asked (--verbose or CLAWDFLY_DEBUG=1): loading them costs every cold start.
if (process.argv.includes('--verbose') || process.env.CLAWDFLY_DEBUG) process.setSourceMapsEnabled(true);
const { main } = await import('../dist/cli.js');

await main();
