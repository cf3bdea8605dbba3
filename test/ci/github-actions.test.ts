/**
 * Deploys from CI: `init --github-actions` writes a workflow GitHub's schema accepts (checked with
 * @action-validator/cli), with FLY_API_TOKEN and the provider keys read from repository secrets and
 * no secret value in the file; `deploy --secrets-from-env` runs without .clawdfly/secrets.env, the
 * way that workflow runs it; `ci token` pipes a deploy token into `gh secret set` over stdin.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ALL_OUTPUT, APP, newProject, stopAppServer } from '../deploy/setup.js';
import { projectSecrets, runCli, tempDir, TEST_SECRETS } from '../helpers/cli.js';
import { ciSpecFlags } from '../helpers/clawdfly-pack.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(stopAppServer);

const require = createRequire(import.meta.url);
const VALIDATOR = join(require.resolve('@action-validator/cli/package.json'), '..', 'cli.mjs');

/** GitHub's workflow schema, as @action-validator/cli checks it: [exit code, output]. */
function validate(file: string): [number, string] {
  try {
    return [0, execFileSync(process.execPath, [VALIDATOR, file], { encoding: 'utf8' })];
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return [e.status, `${e.stdout}${e.stderr}`];
  }
}

describe('init --github-actions', () => {
  it('writes a workflow the schema accepts: push to the branch + by hand, one deploy at a time, secrets by name only', async () => {
    const p = await newProject({ initFlags: ['--github-actions', ...ciSpecFlags(), '--discord'], initEnv: { DISCORD_BOT_TOKEN: TEST_SECRETS.DISCORD_BOT_TOKEN } });
    const file = join(p.dir, '.github', 'workflows', 'deploy.yml');
    const text = readFileSync(file, 'utf8');
    expect(validate(file)).toEqual([0, '']);
    expect(text).toMatch(/on:\n {2}push:\n {4}branches: \[main\]\n {2}workflow_dispatch:/);
    expect(text).toMatch(/concurrency:\n {2}group: clawdfly-deploy-test-claw\n {2}cancel-in-progress: false/);
    expect(text).toContain('uses: superfly/flyctl-actions/setup-flyctl@');
    // the clawdfly that wrote it, from .github/clawdfly/package-lock.json (test/ci/install-step.test.ts runs that step)
    expect(text).toContain('working-directory: .github/clawdfly\n        run: npm ci --no-audit --no-fund');
    expect(text).toContain('run: \'"$GITHUB_WORKSPACE/.github/clawdfly/node_modules/.bin/clawdfly" deploy --yes --json --secrets-from-env\'');
    expect(text).toContain('FLY_API_TOKEN: ${{ secrets.FLY_API_TOKEN }}');
    for (const name of ['CLAWDBOT_GATEWAY_TOKEN', 'ANTHROPIC_API_KEY', 'DISCORD_BOT_TOKEN']) expect(text).toContain(`${name}: \${{ secrets.${name} }}`);
    for (const value of projectSecrets(p.dir)) expect(text).not.toContain(value);

    // The validator really checks: the same file with a typo in a key is refused.
    const broken = join(tempDir(), 'broken.yml');
    writeFileSync(broken, text.replace('runs-on:', 'runs_on:'));
    expect(validate(broken)[0]).not.toBe(0);

    // A re-run keeps it (identical), and remembers the choice without the flag.
    const again = await runCli(['init', '--yes', '--dir', p.dir, '--json'], { env: p.env });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).files).toContainEqual({ path: '.github/workflows/deploy.yml', status: 'identical' });
  }, 120_000);

  it('a project in a sub-folder of a repository: the workflow goes to the repository root and runs in the folder, on its branch', async () => {
    const repo = tempDir();
    mkdirSync(join(repo, '.git'));
    writeFileSync(join(repo, '.git', 'HEAD'), 'ref: refs/heads/trunk\n');
    const dir = join(repo, 'infra', 'gateway');
    const r = await runCli(['init', '--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'test-claw', '--github-actions', ...ciSpecFlags()], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY } });
    expect(r.code, r.stderr).toBe(0);
    const file = join(repo, '.github', 'workflows', 'deploy.yml');
    expect(existsSync(file)).toBe(true);
    expect(existsSync(join(dir, '.github'))).toBe(false);
    expect(existsSync(join(repo, '.github', 'clawdfly', 'package-lock.json'))).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(validate(file)).toEqual([0, '']);
    expect(text).toContain('branches: [trunk]');
    expect(text).toContain('working-directory: infra/gateway');
    expect(text).toContain('npx clawdfly ci token --dir infra/gateway');
  }, 60_000);
});

describe('deploy --secrets-from-env (what the workflow runs)', () => {
  it('a checkout without secrets.env deploys with the token already on Fly, and sets a key given in the environment', async () => {
    const p = await newProject();
    expect((await p.deploy(['--yes'])).code).toBe(0);
    const before = p.fake.secrets(APP);
    // A CI checkout: the committed files, no .clawdfly/secrets.env and no state.json.
    rmSync(join(p.dir, '.clawdfly', 'secrets.env'));
    rmSync(join(p.dir, '.clawdfly', 'state.json'));
    const refused = await p.deploy(['--yes']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/CLAWDBOT_GATEWAY_TOKEN is missing/);

    const newKey = 'test-anthropic-rotated-in-ci-5e8a1c';
    const mark = p.since(0).length;
    const r = await p.deploy(['--yes', '--json', '--secrets-from-env'], { ANTHROPIC_API_KEY: newKey, OPENAI_API_KEY: undefined, CLAWDBOT_GATEWAY_TOKEN: '' });
    expect(r.code, r.stderr).toBe(0);
    ALL_OUTPUT.push(r.stdout);
    expect(r.stdout).not.toContain(newKey);
    const after = p.fake.secrets(APP);
    expect(after['ANTHROPIC_API_KEY']).toBe(newKey);
    // Not in the environment (or empty): kept as it is on Fly.
    expect(after['CLAWDBOT_GATEWAY_TOKEN']).toBe(before['CLAWDBOT_GATEWAY_TOKEN']);
    const imports = p.since(mark).filter((i) => i.argv[0] === 'secrets');
    expect(imports.every((i) => !i.argv.join(' ').includes(newKey))).toBe(true);
  }, 240_000);

  it('a first deploy from CI without the gateway token anywhere is refused (exit 2) before anything is created', async () => {
    const p = await newProject();
    rmSync(join(p.dir, '.clawdfly', 'secrets.env'));
    const r = await p.deploy(['--yes', '--secrets-from-env'], { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY, CLAWDBOT_GATEWAY_TOKEN: undefined });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/CLAWDBOT_GATEWAY_TOKEN is neither in the environment nor set on Fly/);
    expect(p.fake.state().apps[APP]).toBeUndefined();
  }, 120_000);
});

describe('clawdfly ci token', () => {
  /** A stand-in for the GitHub CLI: records its argv, and what it read on stdin, in a file of the test's. */
  function fakeGh(): { bin: string; record: string } {
    const dir = tempDir('clawdfly-gh-');
    const record = join(dir, 'gh-calls.jsonl');
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'gh'),
      `#!${process.execPath}\nconst fs = require('node:fs');\nconst stdin = fs.readFileSync(0, 'utf8');\nfs.appendFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: process.argv.slice(2), stdin, cwd: process.cwd() }) + '\\n');\nprocess.stdout.write('✓ Set Actions secret FLY_API_TOKEN for me/gateway\\n');\n`,
    );
    chmodSync(join(bin, 'gh'), 0o755);
    return { bin, record };
  }

  it('pipes a new app-scoped deploy token to `gh secret set FLY_API_TOKEN` on stdin; it appears on no argv and in no output', async () => {
    const p = await newProject();
    expect((await p.deploy(['--yes'])).code).toBe(0);
    const gh = fakeGh();
    const mark = p.since(0).length;
    const r = await runCli(['ci', 'token', '--dir', p.dir, '--repo', 'me/gateway', '--expiry', '720h'], { env: { ...p.env, PATH: `${gh.bin}:${p.env['PATH']}` } });
    expect(r.code, r.stderr).toBe(0);
    const tokens = (p.fake.state() as unknown as { tokens: { token: string; app: string; expiry: string; name: string }[] }).tokens;
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ app: APP, expiry: '720h', name: 'clawdfly ci me/gateway' });
    const token = tokens[0]!.token;
    const calls = readFileSync(gh.record, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(calls).toEqual([{ argv: ['secret', 'set', 'FLY_API_TOKEN', '--repo', 'me/gateway'], stdin: token, cwd: p.dir }]);
    expect(`${r.stdout}${r.stderr}`).not.toContain(token.slice(6, 40));
    expect(r.stdout).toMatch(/FLY_API_TOKEN set in me\/gateway/);
    for (const call of p.since(mark)) expect(call.argv.join(' ')).not.toContain(token.slice(6, 40));
  }, 120_000);

  it('without gh: creates no token, exits 1 and prints the pipe to run; --print is the one way to see the token', async () => {
    const p = await newProject();
    expect((await p.deploy(['--yes'])).code).toBe(0);
    const noGh = { ...p.env, PATH: (p.env['PATH'] ?? '').split(':').filter((d) => !existsSync(join(d, 'gh'))).join(':') };
    const r = await runCli(['ci', 'token', '--dir', p.dir], { env: noGh });
    // the secret was not stored: a script going on to `git push` must not think it was
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/gh \(the GitHub CLI\) is not on PATH/);
    expect(r.stderr).toContain(`flyctl tokens create deploy -a ${APP} -x 8760h | gh secret set FLY_API_TOKEN`);
    const json = await runCli(['ci', 'token', '--dir', p.dir, '--json'], { env: noGh });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'gh-missing' } });
    expect((p.fake.state() as unknown as { tokens?: unknown[] }).tokens ?? []).toHaveLength(0);

    const printed = await runCli(['ci', 'token', '--dir', p.dir, '--print'], { env: noGh });
    expect(printed.code, printed.stderr).toBe(0);
    const token = (p.fake.state() as unknown as { tokens: { token: string }[] }).tokens[0]!.token;
    expect(printed.stdout).toBe(`${token}\n`);

    const bad = await runCli(['ci', 'token', '--dir', p.dir, '--expiry', '30d'], { env: noGh });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--expiry takes whole hours/);
  }, 120_000);
});
