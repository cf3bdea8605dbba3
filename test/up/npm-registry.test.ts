/**
 * `init --npm-registry <url>` (a mirror, for users behind a slow or blocked registry) reaches both
 * local builds of `clawdfly up --local`: the image build gets `--build-arg NPM_REGISTRY=<url>` (the
 * Dockerfile's npm ci uses it), and the host engine's `npm ci` runs with npm_config_registry. Both
 * are driven with recording stand-ins (a fake podman, a fake npm next to a fake node); without the
 * answer, neither is passed. Bad URLs and URLs with credentials are refused before anything is written.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';
import { freshDir, init } from '../init/util.js';
import { freePort } from '../support/podman.js';

const FAKE_ENGINE = join(ROOT, 'test', 'up', 'fake-engine');
const MIRROR = 'https://registry.npmmirror.com/';
const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

async function project(extra: string[]): Promise<string> {
  const dir = freshDir();
  made.push(dirname(dir));
  const r = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'mirror-claw', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return dir;
}

/** `up --local --engine podman` with the recording podman until the Control UI line; returns the build argv. */
async function buildArgv(dir: string): Promise<string[]> {
  const engineDir = mkdtempSync(join(tmpdir(), 'clawdfly-fake-engine-'));
  made.push(engineDir);
  writeFileSync(join(engineDir, 'calls.jsonl'), '');
  const env = { ...process.env, NO_COLOR: '1', CI: 'true', PATH: `${FAKE_ENGINE}:${dirname(process.execPath)}`, FAKE_ENGINE_DIR: engineDir, XDG_CACHE_HOME: join(engineDir, 'xdg') };
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'clawdfly.js'), 'up', '--local', '--dir', dir, '--engine', 'podman', '--port', String(await freePort())], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<void>((res) => child.on('close', () => res()));
  const deadline = Date.now() + 60_000;
  while (!/Control UI: http:\/\/127\.0\.0\.1:\d+\//.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`no Control UI line:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGINT');
  await exited;
  const calls = readFileSync(join(engineDir, 'calls.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);
  const build = calls.find((c) => c[0] === 'build');
  expect(build, JSON.stringify(calls)).toBeDefined();
  return build!;
}

/**
 * `up --local --engine node --node <fake node>`: the fake node reports the version the runtime needs,
 * the fake npm beside it records the registry it was given and fails. Returns what npm saw.
 */
async function hostNpmRegistry(dir: string): Promise<{ registry: string; stderr: string }> {
  const bin = mkdtempSync(join(tmpdir(), 'clawdfly-fake-node-'));
  made.push(bin);
  const record = join(bin, 'npm-env.txt');
  writeFileSync(join(bin, 'node'), '#!/bin/sh\n# a stand-in node: only answers the version probe\necho 22.12.0\n');
  writeFileSync(join(bin, 'npm'), `#!/bin/sh\nprintf '%s' "\${npm_config_registry-<unset>}" > '${record}'\necho 'npm error fake npm: recorded the registry' >&2\nexit 1\n`);
  chmodSync(join(bin, 'node'), 0o755);
  chmodSync(join(bin, 'npm'), 0o755);
  const r = await runCli(['up', '--local', '--dir', dir, '--engine', 'node', '--node', join(bin, 'node'), '--port', String(await freePort())], { env: { npm_config_registry: undefined, NPM_CONFIG_REGISTRY: undefined } });
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.stderr).toContain('npm ci of the runtime bundle failed');
  expect(existsSync(record), r.stderr).toBe(true);
  return { registry: readFileSync(record, 'utf8'), stderr: r.stderr };
}

describe('init --npm-registry', () => {
  it('is saved in answers.json and documented in the Dockerfile as the NPM_REGISTRY build-arg', async () => {
    const dir = await project(['--npm-registry', 'https://registry.npmmirror.com']);
    expect(JSON.parse(readFileSync(join(dir, '.clawdfly', 'answers.json'), 'utf8')).npmRegistry).toBe(MIRROR);
    const dockerfile = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain('ARG NPM_REGISTRY\n');
    expect(dockerfile).toMatch(/^RUN npm ci .*\$\{NPM_REGISTRY:\+--registry="\$NPM_REGISTRY"\}/m);
  });

  it('the image build of up --local gets --build-arg NPM_REGISTRY=<url>; without the answer, no build-arg', async () => {
    const withMirror = await buildArgv(await project(['--npm-registry', MIRROR]));
    expect(withMirror.join(' ')).toContain(`--build-arg NPM_REGISTRY=${MIRROR}`);
    const without = await buildArgv(await project([]));
    expect(without.join(' ')).not.toContain('NPM_REGISTRY');
  }, 120_000);

  it("the host engine's npm ci runs with npm_config_registry=<url>; without the answer, the user's own npm config", async () => {
    expect((await hostNpmRegistry(await project(['--npm-registry', MIRROR]))).registry).toBe(MIRROR);
    expect((await hostNpmRegistry(await project([]))).registry).toBe('<unset>');
  }, 120_000);

  it.each([
    ['not a URL', 'registry.npmmirror.com', 'is not a URL'],
    ['another scheme', 'ftp://registry.npmmirror.com', 'must be an http(s) URL'],
    ['credentials', 'https://me:hunter2@registry.example.com', 'must not hold a user name or password'],
  ])('refuses %s with exit 2 and writes nothing', async (_what, value, message) => {
    const dir = freshDir();
    made.push(dirname(dir));
    const r = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--npm-registry', value]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain('hunter2');
    expect(existsSync(dir)).toBe(false);
  });
});
