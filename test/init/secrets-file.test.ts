/** A hand-edited `.clawdfly/secrets.env` that cannot be read: one clear line, never a stack, never the value. */
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initProject, runCli } from '../helpers/cli.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

describe('secrets.env with a malformed line', () => {
  it('names the file and line number, exits non-zero, prints no stack trace and no value', async () => {
    const dir = await initProject();
    const file = join(dir, '.clawdfly', 'secrets.env');
    appendFileSync(file, 'WINDOWS_PATH="C:\\path-secret-9d8e7f"\n');
    const r = await runCli(['doctor', '--offline', '--dir', dir], { secrets: ['C:\\path-secret-9d8e7f', 'path-secret-9d8e7f'] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/\.clawdfly\/secrets\.env:\d+: the quoted value is not valid/);
    expect(r.stderr).toMatch(/clawdfly init --dir \S+ --secrets-stdin/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toMatch(/unexpected error|bug/i);
  }, 60_000);
});

describe('init --yes conflict diff', () => {
  it('hides the gateway token when an edited file holds it (the diff goes to stderr)', async () => {
    const dir = await initProject();
    const token = /CLAWDBOT_GATEWAY_TOKEN="([^"]+)"/.exec(readFileSync(join(dir, '.clawdfly', 'secrets.env'), 'utf8'))![1]!;
    appendFileSync(join(dir, 'fly.toml'), `# pasted by hand: ${token}\n`);
    // runCli fails the test if the token (a project secret) shows in any output
    const r = await runCli(['init', '--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'test-claw', '--region', 'iad']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('# pasted by hand: ***');
  }, 60_000);
});
