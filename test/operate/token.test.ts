// `clawdfly token`: the one command allowed to print a secret (only on stdout, only that one),
// --copy through a clipboard tool's stdin, --rotate = save, stage on stdin, ONE machine update.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { APP, cleanupAll, deployed, gatewayToken, runAllowing, type Deployment } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

let d: Deployment;
beforeAll(async () => {
  d = await deployed();
}, 60_000);
afterAll(cleanupAll);

const run = (args: string[], env: Record<string, string> = {}, allow = [gatewayToken(d.dir)]) =>
  runAllowing([...args, '--dir', d.dir], { cwd: d.dir, env: { ...d.fake.env, ...env }, allow });

/** A stand-in `xclip` that stores what it was given on stdin (and its argv) in a file. */
function fakeClipboard(): { binDir: string; file: string } {
  const binDir = join(tempDir('clip-'), 'bin');
  mkdirSync(binDir, { recursive: true });
  const file = join(binDir, '..', 'clipboard.txt');
  // xclip serves the selection: clawdfly hands it the text and does not wait for it to exit, so the
  // stand-in publishes what it read in one rename once stdin closed (the test waits for that file)
  writeFileSync(join(binDir, 'xclip'), `#!/bin/sh\necho "$@" > '${file}.argv'\ncat > '${file}.part' && mv '${file}.part' '${file}'\n`);
  chmodSync(join(binDir, 'xclip'), 0o755);
  return { binDir, file };
}

describe('clawdfly token', () => {
  it('prints exactly the token on stdout and a warning on stderr', async () => {
    const token = gatewayToken(d.dir);
    const r = await run(['token']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${token}\n`);
    expect(r.stderr).toMatch(/Treat it like a password/);
  });

  it('--copy gives the token to the clipboard tool on stdin, never on argv or stdout', async () => {
    const token = gatewayToken(d.dir);
    const clip = fakeClipboard();
    const r = await run(['token', '--copy'], { PATH: `${clip.binDir}:${d.fake.env['PATH']}`, DISPLAY: ':99', WAYLAND_DISPLAY: '' }, []);
    expect(r.code, r.stderr).toBe(0);
    for (const deadline = Date.now() + 20_000; !existsSync(clip.file) && Date.now() < deadline; ) await new Promise((res) => setTimeout(res, 10));
    expect(readFileSync(clip.file, 'utf8')).toBe(token);
    expect(readFileSync(`${clip.file}.argv`, 'utf8').trim()).toBe('-selection clipboard');
    expect(r.stdout).toMatch(/copied to the clipboard \(xclip\)/);
  });

  it('--copy without a clipboard tool for the session fails clearly', async () => {
    const r = await run(['token', '--copy'], { DISPLAY: '', WAYLAND_DISPLAY: '' }, []);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no clipboard tool found/);
    expect(r.stderr).toMatch(/clawdfly token/);
  });

  it('--rotate saves a new token, stages it over stdin and applies it with one machine update', async () => {
    const old = gatewayToken(d.dir);
    const mark = d.mark();
    const restartsBefore = d.fake.restartLog().length;
    // The new token is only known after the run; every other secret (and the old token) must stay out.
    const result = await runAllowing(['token', '--rotate', '--yes', '--dir', d.dir], { cwd: d.dir, env: d.fake.env, allow: () => [gatewayToken(d.dir)] });
    const fresh = gatewayToken(d.dir);
    expect(result.code, result.stderr).toBe(0);
    expect(fresh).not.toBe(old);
    expect(fresh).toMatch(/^[0-9a-f]{64}$/);
    expect(result.stdout).toBe(`${fresh}\n`);
    expect(result.stderr).not.toContain(fresh);
    expect(result.stderr).not.toContain(old);
    expect(d.fake.secrets(APP)['CLAWDBOT_GATEWAY_TOKEN']).toBe(fresh);
    expect(d.fake.machineEnv(APP, d.machineId)['CLAWDBOT_GATEWAY_TOKEN']).toBe(fresh);
    const calls = d.fake.invocations().slice(mark);
    const writes = calls.filter((c) => ['secrets', 'machine', 'deploy'].includes(c.argv[0]!) && c.argv[1] !== 'list');
    expect(writes.map((c) => c.argv)).toEqual([
      ['secrets', 'import', '--stage', '-a', APP],
      ['machine', 'update', d.machineId, '-y', '-a', APP],
    ]);
    expect(writes[0]!.stdin.hadData).toBe(true);
    for (const c of calls) expect(c.argv.join(' ')).not.toContain(fresh);
    expect(d.fake.restartLog().slice(restartsBefore).map((x) => x.reason)).toEqual(['update']);
  });

  it('--rotate with no terminal and no --yes is refused (exit 2) before any flyctl call or local change', async () => {
    const old = gatewayToken(d.dir);
    const mark = d.mark();
    const r = await runAllowing(['token', '--rotate', '--dir', d.dir], { cwd: d.dir, env: d.fake.env, allow: [] });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/--rotate --yes/);
    expect(gatewayToken(d.dir)).toBe(old);
    expect(d.fake.invocations().slice(mark)).toEqual([]);
  });

  it('--rotate that cannot stage keeps the new token locally and says how to finish', async () => {
    const old = gatewayToken(d.dir);
    const r = await runAllowing(['token', '--rotate', '--yes', '--dir', d.dir], { cwd: d.dir, env: { ...d.fake.env, FAKEFLY_FAIL: 'secrets import' }, allow: [] });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/saved in \.clawdfly\/secrets\.env but was not applied/);
    expect(r.stderr).toMatch(/clawdfly token --rotate/);
    expect(gatewayToken(d.dir)).not.toBe(old);
    expect(d.fake.secrets(APP)['CLAWDBOT_GATEWAY_TOKEN']).toBe(old);
  });
});
