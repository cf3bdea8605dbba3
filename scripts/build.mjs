#!/usr/bin/env node
/**
 * Builds the shipped CLI: one esbuild bundle of src/cli.ts with code splitting, so every library
 * is inside dist/ (the published package has no runtime dependencies) and each command's
 * implementation, loaded lazily by its spec, stays in chunks of its own: `clawdfly --help` reads
 * the entry and the specs only. dist/meta.json records which source modules each output file
 * holds (test/cli-startup.test.ts reads it to prove what a cold start loads).
 * Type checking is `npm run typecheck` (tsc), which esbuild does not do.
 */
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = `${ROOT}dist`;

/**
 * zod's namespaces re-export all ~50 of its message locales (z.locales, z.core.locales): half of
 * the zod chunk that every command parses. clawdfly uses none of them by name (zod sets its English
 * messages up itself), so in the bundle they hold English only.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer) ? { path: join(dirname(args.importer), '../locales/en.js'), namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({ contents: `export { default as en } from ${JSON.stringify(args.path)};`, resolveDir: dirname(args.path) }));
  },
};

await rm(DIST, { recursive: true, force: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: ['src/cli.ts'],
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.12',
  // Bundled CommonJS libraries (commander, json5) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __clawdflyRequire } from 'node:module'; const require = __clawdflyRequire(import.meta.url);" },
  sourcemap: 'linked',
  sourcesContent: false,
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
  plugins: [zodEnglishOnly],
});

// The remote agent (src/remote/agent/): one CommonJS file with Node's built-ins only, for the
// image's Node (22 for clawdbot, 24 for openclaw). It is sent on stdin with every `fly ssh` call
// (src/remote/agent-call.ts) and can be require()d inside the image (createArchive, readArchive).
await build({
  absWorkingDir: ROOT,
  entryPoints: ['src/remote/agent/main.ts'],
  outfile: 'dist/agent/clawdfly-agent.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node22',
  external: ['node:sqlite'],
  legalComments: 'none',
  logLevel: 'warning',
});

// Only what a reader of dist/ needs: output file → the source modules it holds.
const outputs = Object.fromEntries(
  Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith('.js'))
    .map(([file, out]) => [file, Object.keys(out.inputs).sort()]),
);
await writeFile(`${DIST}/meta.json`, JSON.stringify({ outputs }, null, 1) + '\n');

// `clawdfly --help`'s page, rendered once by the CLI just built (its top-level page depends on
// nothing but the specs; 80 columns, src/cli.ts HELP_WIDTH): bin/clawdfly.js prints this copy
// without loading the CLI. test/cli-startup.test.ts proves it equals what the CLI prints.
const help = spawnSync(process.execPath, [`${ROOT}bin/clawdfly.js`, '--help'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
if (help.status !== 0 || !help.stdout) throw new Error(`clawdfly --help failed while building: ${help.stderr}`);
await writeFile(`${DIST}/help.txt`, help.stdout);
