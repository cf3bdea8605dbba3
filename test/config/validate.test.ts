/** `clawdfly config validate` through the real binary (no flyctl involved). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initProject, runCli } from '../helpers/cli.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

let dir: string;
let good: string;
beforeAll(async () => {
  dir = await initProject();
  good = readFileSync(join(dir, 'clawdbot.json'), 'utf8');
}, 60_000);

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('config validate', () => {
  it('accepts the file init wrote (exit 0)', async () => {
    const result = await runCli(['config', 'validate', '--dir', dir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('is valid');
    expect(result.stdout).not.toContain('JSON5');
  });

  it('accepts JSON5 (comments, trailing commas) and says so', async () => {
    const json5 = good.replace('{', '{\n  // edited by hand\n').replace(/\n}\s*$/, ',\n}\n');
    const file = write('json5.json', json5);
    const result = await runCli(['config', 'validate', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('valid (JSON5)');
    expect(result.stdout).toContain('the gateway accepts it');
  });

  it('lists every problem as file:line: path: message and exits 1', async () => {
    const config = JSON.parse(good);
    config.foo = 1;
    config.gateway.port = '3000';
    const text = JSON.stringify(config, null, 2);
    const file = write('bad.json', text);
    const fooLine = text.split('\n').findIndex((l) => l.includes('"foo"')) + 1;
    const portLine = text.split('\n').findIndex((l) => l.includes('"port"')) + 1;
    const result = await runCli(['config', 'validate', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`:${fooLine}: <root>: Unrecognized key: "foo"`);
    expect(result.stdout).toMatch(new RegExp(`:${portLine}: gateway\\.port: Invalid input: expected number, received string`));
  });

  it('--json prints one document with the problems', async () => {
    const file = write('bad2.json', '{ "gateway": { "bind": "everywhere" } ');
    const result = await runCli(['config', 'validate', file, '--json']);
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.problems[0].message).toContain('JSON5 parse failed');
  });

  it('a missing file is a usage error (exit 2)', async () => {
    const result = await runCli(['config', 'validate', join(dir, 'nope.json')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no config file at');
  });
});
