// `clawdfly ssh` (flyctl ssh console with the terminal attached, right app and machine) and
// `clawdfly open` (the URL and the two login steps; never a browser in CI or without a terminal).
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { APP, cleanupAll, deployed, type Deployment } from './setup.js';

let d: Deployment;
beforeAll(async () => {
  d = await deployed();
}, 60_000);
afterAll(cleanupAll);

describe('clawdfly ssh', () => {
  it('runs a command on the gateway machine with stdio attached', async () => {
    const file = d.fake.machineFsPath(APP, d.machineId, '/data/hello.txt');
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, 'hello from the volume\n');
    const mark = d.mark();
    const r = await d.cli(['ssh', '--', 'cat', '/data/hello.txt']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hello from the volume\n');
    expect(d.since(mark).filter((a) => a[0] === 'ssh')).toEqual([['ssh', 'console', '-a', APP, '--machine', d.machineId, '-C', 'cat /data/hello.txt']]);
  });

  it("passes --pty, and returns flyctl's exit code when the remote command fails", async () => {
    const mark = d.mark();
    const r = await d.cli(['ssh', '--pty', '--', 'cat', '/data/missing.txt']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Process exited with status 1/);
    expect(d.since(mark).find((a) => a[0] === 'ssh')).toContain('--pty');
  });

  it('an interactive shell needs a terminal: refused without one (exit 2, no flyctl call)', async () => {
    const mark = d.mark();
    const r = await d.cli(['ssh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no terminal/);
    expect(d.since(mark)).toEqual([]);
  });
});

describe('clawdfly open', () => {
  it('prints the URL and how to log in, and opens no browser in CI', async () => {
    const bin = join(tempDir('opener-'), 'bin');
    mkdirSync(bin, { recursive: true });
    const marker = join(bin, 'opened');
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\necho "$@" > '${marker}'\n`);
    chmodSync(join(bin, 'xdg-open'), 0o755);
    const mark = d.mark();
    const r = await d.cli(['open'], { env: { PATH: `${bin}:${d.fake.env['PATH']}`, DISPLAY: ':0' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('https://test-claw.fly.dev/');
    expect(r.stdout).toContain('clawdfly token --copy');
    expect(r.stdout).toContain('clawdfly devices approve --latest');
    expect(r.stdout).toMatch(/pairing required/);
    expect(existsSync(marker)).toBe(false);
    expect(d.since(mark)).toEqual([]);
  });

  it('--json gives the URL and the login steps', async () => {
    const r = await d.cli(['open', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ ok: true, app: APP, url: 'https://test-claw.fly.dev/', opened: false });
    expect(json.login.map((s: { command?: string }) => s.command).filter(Boolean)).toEqual(['clawdfly token --copy', 'clawdfly devices approve --latest']);
  });
});
