/**
 * Cold start: `clawdfly --help` must not load any command implementation or heavy dependency.
 * Proved with a module resolve hook (node --import + module.register) that logs every module the
 * process resolves; the same hook sees the heavy modules when a command really runs.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, tempDir } from './helpers/cli.js';

const HEAVY = ['zod', 'smol-toml', 'execa', '@inquirer/prompts', 'ora', 'json5'];

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
function traced(args: string[]): { code: number; stdout: string; stderr: string; urls: string[] } {
  const log = join(tempDir('clawdfly-trace-'), 'resolved.log');
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(hookDir, 'register.mjs')).href, BIN, ...args], {
    env: { ...process.env, CLAWDFLY_TEST_RESOLVE_LOG: log, NO_COLOR: '1', CI: 'true' },
    encoding: 'utf8',
    input: '',
  });
  const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, urls };
}

const loaded = (urls: string[], pkg: string) => urls.filter((u) => u.includes(`/node_modules/${pkg}/`));

describe('cold start', () => {
  it.each(['--help', 'init --help', '--version'])('`clawdfly %s` loads none of the heavy modules', (line) => {
    const r = traced(line.split(' '));
    expect(r.code, r.stderr).toBe(0);
    // The hook works: it saw the CLI itself and commander.
    expect(r.urls.some((u) => u.endsWith('/dist/cli.js'))).toBe(true);
    expect(loaded(r.urls, 'commander').length).toBeGreaterThan(0);
    for (const pkg of HEAVY) expect(loaded(r.urls, pkg), pkg).toEqual([]);
    // No command implementation either: only specs.
    expect(r.urls.filter((u) => /\/dist\/commands\/[^/]+\/index\.js$/.test(u))).toEqual([]);
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
    expect(r.urls.some((u) => u.endsWith('/dist/commands/init/index.js'))).toBe(true);
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
