/**
 * The Dockerfile init writes prunes, in the `npm ci` layer itself (a later layer could not shrink
 * the image), what the gateway never loads on Linux: node-llama-cpp's GPU and foreign-CPU builds,
 * chosen by the build platform (TARGETARCH), and type declarations / source maps. The prune step
 * is run here for real by /bin/sh against a fake node_modules for amd64 and arm64 builds; the
 * image tests (test/image/) boot the real gateway in the pruned image.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_SECRETS, tempDir } from '../helpers/cli.js';
import { freshDir, init } from './util.js';

const KEYS = { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY };

async function dockerfileFor(flags: string[]): Promise<string> {
  const dir = freshDir();
  const result = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'slim-test', ...flags], { env: KEYS });
  expect(result.code, result.stderr).toBe(0);
  return readFileSync(join(dir, 'Dockerfile'), 'utf8');
}

/** The RUN instruction (continuation lines joined) that contains `needle`, without `RUN `. */
function runInstruction(dockerfile: string, needle: string): string {
  const instructions = dockerfile.replace(/\\\n/g, ' ').split('\n');
  const found = instructions.find((line) => line.startsWith('RUN ') && line.includes(needle));
  if (!found) throw new Error(`no RUN instruction with ${needle}`);
  return found.slice('RUN '.length);
}

const LLAMA_BUILDS = ['linux-x64', 'linux-x64-cuda', 'linux-x64-cuda-ext', 'linux-x64-vulkan', 'linux-arm64', 'linux-armv7l'];
const FILES = [
  'node_modules/zod/index.js',
  'node_modules/zod/index.d.ts',
  'node_modules/zod/index.js.map',
  'node_modules/pdfjs-dist/cmaps/Adobe-CNS1-0.bcmap',
  'node_modules/@octokit/core/dist-types/index.d.ts',
  'node_modules/@octokit/core/dist-src/index.js',
  'node_modules/clawdbot/dist/index.js',
  'node_modules/clawdbot/dist/plugin-sdk/index.d.ts',
  'node_modules/clawdbot/extensions/memory/index.ts',
  ...LLAMA_BUILDS.map((b) => `node_modules/@node-llama-cpp/${b}/bins/${b}/llama-addon.node`),
];

/**
 * Runs the generated install step in a fake /app: `npm ci` and `npm cache clean` become no-ops
 * (the node_modules below is what npm would have installed), TARGETARCH is what the builder sets.
 */
function runPruneStep(run: string, targetArch: string | undefined): string[] {
  const app = tempDir('clawdfly-slim-');
  for (const f of FILES) {
    mkdirSync(join(app, dirname(f)), { recursive: true });
    writeFileSync(join(app, f), 'x');
  }
  const script = run.replace('npm ci --omit=dev --no-audit --no-fund', 'true').replace('npm cache clean --force', 'true');
  expect(script).not.toMatch(/\bnpm\b/);
  execFileSync('/bin/sh', ['-ec', script], { cwd: app, env: { PATH: process.env.PATH, ...(targetArch ? { TARGETARCH: targetArch } : {}) } });
  return FILES.filter((f) => {
    try {
      readFileSync(join(app, f));
      return true;
    } catch {
      return false;
    }
  });
}

describe('Dockerfile: slim image (clawdbot)', () => {
  it('prunes in the npm ci layer, by the build platform (ARG TARGETARCH)', async () => {
    const text = await dockerfileFor([]);
    expect(text).toMatch(/^ARG TARGETARCH$/m);
    expect(text.indexOf('ARG TARGETARCH')).toBeLessThan(text.indexOf('RUN npm ci'));
    // one RUN: install, prune and cache clean together
    expect(runInstruction(text, 'npm ci')).toMatch(/^npm ci .*node_modules\/@node-llama-cpp\/\*.* && npm cache clean --force$/);
  });

  it.each([
    ['amd64', 'linux-x64'],
    ['arm64', 'linux-arm64'],
  ])('a %s build keeps only @node-llama-cpp/%s, drops declarations and source maps outside the gateway package', async (arch, kept) => {
    const run = runInstruction(await dockerfileFor([]), 'npm ci');
    const left = runPruneStep(run, arch);
    expect(left.filter((f) => f.includes('@node-llama-cpp'))).toEqual([`node_modules/@node-llama-cpp/${kept}/bins/${kept}/llama-addon.node`]);
    expect(left.filter((f) => !f.includes('@node-llama-cpp'))).toEqual([
      'node_modules/zod/index.js',
      'node_modules/pdfjs-dist/cmaps/Adobe-CNS1-0.bcmap',
      'node_modules/@octokit/core/dist-src/index.js',
      'node_modules/clawdbot/dist/index.js',
      'node_modules/clawdbot/dist/plugin-sdk/index.d.ts',
      'node_modules/clawdbot/extensions/memory/index.ts',
    ]);
  });

  it('without TARGETARCH (plain docker build) keeps the build of the arch node runs on', async () => {
    const run = runInstruction(await dockerfileFor([]), 'npm ci');
    const nodeArch = process.arch === 'arm' ? 'armv7l' : process.arch;
    expect(runPruneStep(run, undefined).filter((f) => f.includes('@node-llama-cpp'))).toEqual([
      `node_modules/@node-llama-cpp/linux-${nodeArch}/bins/linux-${nodeArch}/llama-addon.node`,
    ]);
  });
});

describe('Dockerfile: openclaw (pruned by what a file-access trace never saw opened)', () => {
  const OPENCLAW_FILES = [
    'node_modules/openai/index.js',
    'node_modules/openai/index.d.ts',
    'node_modules/openai/index.d.ts.map',
    'node_modules/openai/index.js.map',
    'node_modules/openai/src/index.ts',
    'node_modules/@anthropic-ai/sdk/index.d.mts',
    'node_modules/@anthropic-ai/sdk/index.mjs',
    'node_modules/playwright-core/lib/tools/skills/playwright-cli/SKILL.md',
    'node_modules/openclaw/dist/index.js',
    'node_modules/openclaw/dist/plugin-sdk/index.d.ts',
    'node_modules/openclaw/dist/index.js.map',
    'node_modules/openclaw/node_modules/zod/index.d.ts',
  ];

  it('drops declarations, source maps and TypeScript sources outside the gateway package, keeps code and Markdown', async () => {
    const text = await dockerfileFor(['--runtime', 'openclaw']);
    expect(text).not.toContain('TARGETARCH');
    const app = tempDir('clawdfly-slim-openclaw-');
    for (const f of OPENCLAW_FILES) {
      mkdirSync(join(app, dirname(f)), { recursive: true });
      writeFileSync(join(app, f), 'x');
    }
    const script = runInstruction(text, 'npm ci').replace('npm ci --omit=dev --no-audit --no-fund', 'true').replace('npm cache clean --force', 'true');
    execFileSync('/bin/sh', ['-ec', script], { cwd: app, env: { PATH: process.env.PATH } });
    const kept = OPENCLAW_FILES.filter((f) => existsSync(join(app, f)));
    expect(kept).toEqual([
      'node_modules/openai/index.js',
      'node_modules/@anthropic-ai/sdk/index.mjs',
      'node_modules/playwright-core/lib/tools/skills/playwright-cli/SKILL.md',
      'node_modules/openclaw/dist/index.js',
      'node_modules/openclaw/dist/plugin-sdk/index.d.ts',
      'node_modules/openclaw/dist/index.js.map',
      'node_modules/openclaw/node_modules/zod/index.d.ts',
    ]);
  });
});

describe('Dockerfile: Signal variant', () => {
  it('downloads signal-cli from the SIGNAL_CLI_URL build argument (GitHub by default)', async () => {
    const text = await dockerfileFor(['--signal', '--memory', '2048']);
    expect(text).toMatch(/^ARG SIGNAL_CLI_URL=https:\/\/github\.com\/AsamK\/signal-cli\/releases\/download\/v\$\{SIGNAL_CLI_VERSION\}\//m);
    expect(runInstruction(text, 'curl -fsSL')).toContain('curl -fsSL "${SIGNAL_CLI_URL}"');
  });
});
