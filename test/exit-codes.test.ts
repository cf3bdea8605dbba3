/**
 * The README's exit-code promise for the cases a new user hit: a command group without its
 * subcommand is refused input (2, with the usage), and Ctrl-C ends a run with 130 wherever it lands
 * (during a plain flyctl call, or during a streamed transfer whose flyctl the signal also ends).
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers/cli.js';
import { startCli } from './support/running-cli.js';
import type { Deployed } from './config/setup.js';
import { gatewayWithState, stopAppServer } from './backup/setup.js';

describe('a command group without its subcommand', () => {
  for (const [group, subs] of [['config', /validate.*push.*pull.*diff|validate, push, pull or diff/s], ['ci', /token/]] as const) {
    it(`clawdfly ${group}: exit 2, the usage on stderr`, async () => {
      const r = await runCli([group]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`Usage: clawdfly ${group}`));
      expect(r.stderr).toMatch(subs);
      expect(r.stderr).toMatch(new RegExp(`clawdfly ${group} needs a subcommand`));
      expect(r.stdout).toBe('');
    });
  }

  it('--help still exits 0', async () => {
    const r = await runCli(['config', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: clawdfly config/);
  });
});

describe('Ctrl-C', () => {
  const live: Deployed[] = [];
  afterEach(() => {
    for (const d of live.splice(0)) d.fake.cleanup();
  });
  afterAll(stopAppServer);

  /** A flyctl that hangs (as a slow network does) on the first call whose argv contains `hangOn`. */
  function hangingFlyctl(hangOn: string): { flyctl: string; hanging: string } {
    const dir = tempDir('clawdfly-hang-');
    const flyctl = join(dir, 'flyctl');
    const hanging = join(dir, 'hanging');
    writeFileSync(flyctl, `#!/bin/sh\ncase "$*" in *${JSON.stringify(hangOn)}*) : > ${JSON.stringify(hanging)}; exec sleep 120;; esac\nexec flyctl "$@"\n`);
    chmodSync(flyctl, 0o755);
    return { flyctl, hanging };
  }

  async function interruptAt(hangOn: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
    const d = await gatewayWithState();
    live.push(d);
    const { flyctl, hanging } = hangingFlyctl(hangOn);
    const cli = startCli(['backup', '--dir', d.dir, '--flyctl', flyctl], { ...process.env, ...d.env, NO_COLOR: '1', CI: 'true' });
    // poll for the evidence that the call hangs, then press Ctrl-C
    for (let waited = 0; !existsSync(hanging); waited += 100) {
      if (waited > 60_000) throw new Error(`flyctl was never called with ${hangOn}:\n${cli.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    cli.child.kill('SIGINT');
    const exit = await cli.exitWithin(30_000);
    return { ...exit, stderr: cli.stderr() };
  }

  it('during a plain flyctl call: exit 130', async () => {
    const r = await interruptAt('machines list');
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 130, signal: null });
  }, 120_000);

  it('during the backup stream (flyctl ends with the signal too): exit 130, not 1, and no error blamed on flyctl', async () => {
    const r = await interruptAt('ssh console');
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 130, signal: null });
    expect(r.stderr).toMatch(/interrupted/);
    expect(r.stderr).not.toMatch(/failed with status|unexpected error/);
  }, 120_000);
});
