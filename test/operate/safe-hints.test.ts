// Hints that must not send a user somewhere harmful, and errors that say where: a clone without
// secrets.env is never told to run `clawdfly init` (it would mint a new gateway token and the next
// deploy would rotate the live one); `ssh --app other` is never told to deploy fly.toml's app; a
// broken fly.toml names its line.
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP, cleanupAll, deployed, type Deployment } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

let d: Deployment;
beforeAll(async () => {
  d = await deployed();
}, 60_000);
afterAll(cleanupAll);

describe('a clone without .clawdfly/secrets.env (git ignores it)', () => {
  it('deploy refuses (exit 2) and says to copy secrets.env or keep the token on Fly, never `clawdfly init`; so does token', async () => {
    const secrets = join(d.dir, '.clawdfly', 'secrets.env');
    const kept = readFileSync(secrets);
    rmSync(secrets);
    try {
      const mark = d.mark();
      const r = await d.cli(['deploy', '--yes']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/CLAWDBOT_GATEWAY_TOKEN is missing/);
      expect(r.stderr).not.toMatch(/clawdfly init/);
      expect(r.stderr).toMatch(/copy \.clawdfly\/secrets\.env from the computer that deployed/);
      expect(r.stderr).toMatch(/clawdfly deploy( --dir \S+)? --secrets-from-env/);
      // refused locally, before any flyctl call
      expect(d.since(mark)).toEqual([]);

      const token = await d.cli(['token']);
      expect(token.code).toBe(2);
      expect(token.stderr).not.toMatch(/clawdfly init/);
      expect(token.stderr).toMatch(/token --rotate/);
    } finally {
      appendFileSync(secrets, kept);
    }
  });
});

describe('ssh --app naming another app', () => {
  it('an app with no machine: the hint checks the name, and never suggests deploying fly.toml\'s app', async () => {
    d.fly(['apps', 'create', 'other-claw']);
    const r = await d.cli(['ssh', '--app', 'other-claw', '--', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/other-claw has no machine/);
    expect(r.stderr).not.toMatch(/→ (npx )?clawdfly deploy/);
    expect(r.stderr).toMatch(/fly apps list/);
    expect(r.stderr).toContain(`clawdfly deploy would deploy ${APP}`);
  });
});

describe('a fly.toml that is not TOML', () => {
  it('names the line and column and shows it (exit 2)', async () => {
    const toml = join(d.dir, 'fly.toml');
    const before = readFileSync(toml, 'utf8');
    const line = before.split('\n').length;
    appendFileSync(toml, 'memory = = "2048mb"\n');
    try {
      const r = await d.cli(['deploy', '--dry-run']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`fly\\.toml is not valid TOML at line ${line}, column \\d+`));
      expect(r.stderr).toContain(`${line} | memory = = "2048mb"`);
      expect(r.stderr).toContain(`fly.toml:${line}`);
    } finally {
      rmSync(toml);
      appendFileSync(toml, before);
    }
  });
});
