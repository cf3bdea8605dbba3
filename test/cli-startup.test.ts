/**
 * Cold start: `clawdfly --help` must not load any command implementation or heavy dependency.
 * Proved with a module resolve hook (node --import + module.register) that logs every file the
 * process resolves. dist/ is a bundle, so a file is a chunk: dist/meta.json (written by the build)
 * names the source modules each chunk holds. The same hook sees the heavy modules when a command
 * really runs.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli, tempDir } from './helpers/cli.js';

const HEAVY = ['zod', 'smol-toml', '@inquirer/prompts', 'ora', 'json5'];

const HOOKS = `
import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(log, result.url + '\\n');
  return result;
}
`;
const REGISTER = `
import { register } from 'node:module';
register(new URL('./hooks.mjs', import.meta.url), { data: { log: process.env.CLAWDFLY_TEST_RESOLVE_LOG } });
`;

let hookDir: string;
beforeAll(() => {
  hookDir = tempDir('clawdfly-hooks-');
  writeFileSync(join(hookDir, 'hooks.mjs'), HOOKS);
  writeFileSync(join(hookDir, 'register.mjs'), REGISTER);
});

/** Runs the CLI with the hook; returns the exit code and every resolved module URL. */
function traced(args: string[], extraEnv: Record<string, string> = {}): { code: number; stdout: string; stderr: string; urls: string[] } {
  const log = join(tempDir('clawdfly-trace-'), 'resolved.log');
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(hookDir, 'register.mjs')).href, BIN, ...args], {
    env: { ...process.env, CLAWDFLY_TEST_RESOLVE_LOG: log, NO_COLOR: '1', CI: 'true', ...extraEnv },
    encoding: 'utf8',
    input: '',
  });
  const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, urls };
}

/** Output file of the bundle (dist/…) → the source modules it holds (node_modules/…, src/…). */
const CHUNK_INPUTS = (JSON.parse(readFileSync(join(ROOT, 'dist', 'meta.json'), 'utf8')) as { outputs: Record<string, string[]> }).outputs;

/** Every source module inside the bundle files the process loaded. */
function modulesIn(urls: string[]): string[] {
  const files = urls.filter((u) => u.startsWith('file:')).map((u) => relative(ROOT, fileURLToPath(u)).split(sep).join('/'));
  return files.flatMap((file) => CHUNK_INPUTS[file] ?? []);
}

const loaded = (urls: string[], pkg: string) => modulesIn(urls).filter((m) => m.startsWith(`node_modules/${pkg}/`));

describe('the bundle', () => {
  it('has every library inside it: the published package needs no dependency', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(pkg.dependencies ?? {}).toEqual({});
    const bundled = new Set(Object.values(CHUNK_INPUTS).flat().filter((m) => m.startsWith('node_modules/')).map((m) => m.split('/').slice(1, m.split('/')[1]!.startsWith('@') ? 3 : 2).join('/')));
    for (const pkgName of ['commander', ...HEAVY]) expect(bundled, pkgName).toContain(pkgName);
  });

  it('keeps each command implementation in a chunk of its own, out of the entry', () => {
    expect(CHUNK_INPUTS['dist/cli.js']!.filter((m) => /^src\/commands\/[^/]+\/index\.ts$/.test(m))).toEqual([]);
    const implementations = Object.values(CHUNK_INPUTS).flat().filter((m) => /^src\/commands\/[^/]+\/index\.ts$/.test(m));
    expect(implementations.length).toBeGreaterThanOrEqual(15);
  });
});

describe('cold start', () => {
  it('`clawdfly --help` prints the page the build rendered without loading the CLI, the same page the CLI renders', () => {
    const built = traced(['--help']);
    expect(built.code, built.stderr).toBe(0);
    expect(built.urls.some((u) => u.includes('/dist/'))).toBe(false);
    // Two arguments: commander renders the page (the hook sees the CLI load), and it is the same text.
    const rendered = traced(['--help', '--no-color']);
    expect(rendered.urls.some((u) => u.endsWith('/dist/cli.js'))).toBe(true);
    expect(built.stdout).toBe(rendered.stdout);
    expect(built.stdout).toBe(readFileSync(join(ROOT, 'dist', 'help.txt'), 'utf8'));
  });

  it.each(['--help --no-color', 'init --help', '--version'])('`clawdfly %s` loads none of the heavy modules', (line) => {
    const r = traced(line.split(' '));
    expect(r.code, r.stderr).toBe(0);
    // The hook works: it saw the CLI itself and commander.
    expect(r.urls.some((u) => u.endsWith('/dist/cli.js'))).toBe(true);
    expect(loaded(r.urls, 'commander').length).toBeGreaterThan(0);
    for (const pkg of HEAVY) expect(loaded(r.urls, pkg), pkg).toEqual([]);
    // No command implementation either: only specs.
    expect(modulesIn(r.urls).filter((m) => /^src\/commands\/[^/]+\/index\.ts$/.test(m))).toEqual([]);
    expect(modulesIn(r.urls)).toContain('src/commands/init/spec.ts');
  });

  it('`clawdfly --help` in a Chinese locale loads no message catalog (they load when a command runs)', () => {
    const r = traced(['--help'], { LANG: 'zh_CN.UTF-8' });
    expect(r.code, r.stderr).toBe(0);
    expect(modulesIn(r.urls).filter((m) => m.startsWith('src/i18n/') && m !== 'src/i18n/locale.ts')).toEqual([]);
    const ran = traced(['doctor', '--offline', '--lang', 'zh-CN', '--dir', tempDir('clawdfly-no-project-')]);
    // The control: a command that speaks Chinese does load the Chinese catalog.
    expect(modulesIn(ran.urls)).toContain('src/i18n/zh-CN.ts');
  });

  it('--help lists init', () => {
    const r = traced(['--help']);
    expect(r.stdout).toMatch(/^\s+init\b/m);
  });

  it('the same hook does see heavy modules when a command runs (control)', () => {
    const dir = join(tempDir(), 'g');
    const r = traced(['init', '--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'trace-claw']);
    expect(r.code, r.stderr).toBe(0);
    expect(loaded(r.urls, 'smol-toml').length).toBeGreaterThan(0);
    expect(modulesIn(r.urls)).toContain('src/commands/init/index.ts');
  });
});

describe('command-line mistakes exit 2', () => {
  it('unknown command', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(r.stdout).toBe('');
  });

  it('unknown flag', async () => {
    const r = await runCli(['init', '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--frobnicate'/);
  });

  it('flag without its value', async () => {
    const r = await runCli(['init', '--yes', '--app']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/argument missing/);
  });
});
