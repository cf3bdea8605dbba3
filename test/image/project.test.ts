/**
 * The pieces the image tests stand on, without building anything: the canonical project gives the
 * same build cache key on every run (its random token is docker-ignored), .dockerignore is read
 * with Docker's rules, and fly.toml becomes the machine options Fly would use.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { flyMachineOptions, initCanonical, removeCanonicalDirs, shellSplit } from './project.js';
import { contextHash, dockerignoreMatcher } from '../support/podman.js';
import { parseSecretsEnv } from '../../src/project/secrets.js';

afterAll(removeCanonicalDirs);

describe('canonical project', () => {
  it('gives the same build cache key every run although each run draws a new gateway token', async () => {
    const [a, b] = await Promise.all([initCanonical(), initCanonical()]);
    const secrets = (dir: string) => parseSecretsEnv(readFileSync(join(dir, '.clawdfly', 'secrets.env'), 'utf8'));
    expect(secrets(a)['CLAWDBOT_GATEWAY_TOKEN']).not.toBe(secrets(b)['CLAWDBOT_GATEWAY_TOKEN']);
    const ha = await contextHash(a);
    expect(await contextHash(b)).toBe(ha);
    // what the build really receives still counts: a changed entrypoint is a new image …
    appendFileSync(join(b, 'runtime', 'entrypoint.sh'), '# changed\n');
    expect(await contextHash(b)).not.toBe(ha);
    // … while docker-ignored files never are
    writeFileSync(join(a, 'debug.log'), 'x');
    appendFileSync(join(a, '.clawdfly', 'answers.json'), ' ');
    expect(await contextHash(a)).toBe(ha);
  }, 120_000);
});

describe('dockerignoreMatcher', () => {
  it('follows Docker’s rules: anchored patterns, directory matches cover their contents, ! re-includes, last match wins', async () => {
    const dir = await initCanonical();
    writeFileSync(join(dir, '.dockerignore'), ['# comment', '.clawdfly', '/node_modules/', '*.log', 'docs/**/*.md', '!docs/keep.md', 'a?c'].join('\n'));
    const ignored = dockerignoreMatcher(dir);
    const cases: [string, boolean][] = [
      ['.clawdfly', true],
      ['.clawdfly/secrets.env', true],
      ['node_modules/x/index.js', true],
      ['runtime/node_modules', false], // anchored: only the top-level node_modules
      ['debug.log', true],
      ['logs/debug.log', false], // `*` stays inside one path segment
      ['docs/a/b/c.md', true],
      ['docs/c.md', true],
      ['docs/keep.md', false],
      ['abc', true],
      ['abbc', false],
      ['Dockerfile', false],
    ];
    expect(cases.map(([p]) => [p, ignored(p, false)])).toEqual(cases);
  }, 120_000);
});

describe('flyMachineOptions', () => {
  it('turns fly.toml into what Fly runs: [env] + secrets, the process command, [[vm]] memory, internal_port', async () => {
    const dir = await initCanonical(['--port', '8080', '--memory', '4096']);
    const opts = flyMachineOptions(dir, { image: 'img', volumeDir: '/tmp/vol', env: { NO_COLOR: undefined, EXTRA: '1' } });
    expect(opts.command).toEqual(['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', '8080', '--bind', 'lan']);
    expect(opts.memoryMb).toBe(4096);
    expect(opts.internalPort).toBe(8080);
    expect(opts.image).toBe('img');
    expect(opts.volumeDir).toBe('/tmp/vol');
    const secrets = parseSecretsEnv(readFileSync(join(dir, '.clawdfly', 'secrets.env'), 'utf8'));
    expect(opts.env).toEqual({
      NODE_ENV: 'production',
      CLAWDBOT_STATE_DIR: '/data',
      TMPDIR: '/data/tmp',
      NODE_OPTIONS: '--max-old-space-size=3072',
      CLAWDBOT_DISABLE_BONJOUR: '1',
      // the watchdog's settings (fly.toml [env], README "Watchdog")
      CLAWDFLY_WATCHDOG: 'on',
      CLAWDFLY_WATCHDOG_INTERVAL: '20s',
      CLAWDFLY_WATCHDOG_FAILURES: '3',
      ...secrets,
      EXTRA: '1',
    });
    expect(Object.keys(secrets)).toEqual(expect.arrayContaining(['CLAWDBOT_GATEWAY_TOKEN', 'ANTHROPIC_API_KEY', 'OPENAI_API_KEY']));
  }, 120_000);

  it('splits [processes] commands the way flyctl does', () => {
    expect(shellSplit(`node dist/index.js gateway --port 3000`)).toEqual(['node', 'dist/index.js', 'gateway', '--port', '3000']);
    expect(shellSplit(`sh -c 'echo "a b"; exit 0'  x\\ y "q\\"t" ''`)).toEqual(['sh', '-c', 'echo "a b"; exit 0', 'x y', 'q"t', '']);
    expect(() => shellSplit(`echo 'open`)).toThrow(/closing quote/);
  });
});
