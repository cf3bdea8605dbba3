/**
 * Secrets: only .clawdfly/secrets.env holds them (mode 0600), git and the image builder never
 * see it, no other file and no output contains a value, and re-runs keep the gateway token while
 * taking new keys from the environment. (runCli also fails any run whose output contains a
 * TEST_SECRETS value or a value from the project's secrets.env.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_SECRETS, tempDir } from '../helpers/cli.js';
import { freshDir, init, listFiles, readSecretsFile } from './util.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const ALL_SECRETS = {
  ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY,
  OPENAI_API_KEY: TEST_SECRETS.OPENAI_API_KEY,
  GEMINI_API_KEY: TEST_SECRETS.GEMINI_API_KEY,
  DISCORD_BOT_TOKEN: TEST_SECRETS.DISCORD_BOT_TOKEN,
  TELEGRAM_BOT_TOKEN: TEST_SECRETS.TELEGRAM_BOT_TOKEN,
};
const CHANNELS = ['--discord-guild', '123456789012345678:general', '--telegram'];

function git(cwd: string, ...args: string[]): { code: number; stdout: string } {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  return { code: r.status ?? 1, stdout: r.stdout };
}

describe('init secrets', { timeout: 60_000 }, () => {
  it('writes every secret to .clawdfly/secrets.env (0600) and nowhere else, and prints none', async () => {
    const dir = freshDir();
    const human = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'secret-claw', '--model', 'google/gemini-2.5-pro', ...CHANNELS], { env: ALL_SECRETS });
    expect(human.code, human.stderr).toBe(0);

    const secretsFile = join(dir, '.clawdfly', 'secrets.env');
    expect(statSync(secretsFile).mode & 0o777).toBe(0o600);
    const secrets = readSecretsFile(dir);
    const token = secrets['CLAWDBOT_GATEWAY_TOKEN']!;
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    for (const [name, value] of Object.entries(ALL_SECRETS)) expect(secrets[name], name).toBe(value);

    const values = [token, ...Object.values(ALL_SECRETS)];
    const files = listFiles(dir).filter((f) => f !== '.clawdfly/secrets.env');
    for (const f of ['fly.toml', 'clawdbot.json', 'Dockerfile', '.clawdfly/answers.json']) expect(files).toContain(f);
    for (const file of files) {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const value of values) expect(text.includes(value), `${file} contains a secret value`).toBe(false);
    }
    // Tokens are not written into the config: the gateway reads them from the environment.
    const config = JSON.parse(readFileSync(join(dir, 'clawdbot.json'), 'utf8'));
    expect(config.gateway.auth).toBeUndefined();
    expect(config.channels.discord.token).toBeUndefined();
    expect(config.channels.telegram.botToken).toBeUndefined();

    // Output, human and --json (a re-run, which reads the secrets back from secrets.env).
    const json = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--json'], { env: ALL_SECRETS });
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout);
    expect(doc.secrets).toEqual(expect.arrayContaining(['CLAWDBOT_GATEWAY_TOKEN', ...Object.keys(ALL_SECRETS)]));
    for (const result of [human, json]) {
      for (const value of values) {
        expect(result.stdout.includes(value)).toBe(false);
        expect(result.stderr.includes(value)).toBe(false);
      }
    }
  });

  it('.gitignore keeps secrets.env out of git; .dockerignore keeps .clawdfly out of the image', async () => {
    const repo = tempDir('clawdfly-git-');
    execFileSync('git', ['init', '-q'], { cwd: repo });
    // The project in a subfolder of the repo, the common layout.
    const dir = join(repo, 'gateway');
    const result = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'git-claw'], { env: ALL_SECRETS });
    expect(result.code).toBe(0);

    expect(git(dir, 'check-ignore', '-q', '.clawdfly/secrets.env').code).toBe(0);
    expect(git(repo, 'check-ignore', '-q', 'gateway/.clawdfly/secrets.env').code).toBe(0);
    expect(git(dir, 'check-ignore', '-q', '.clawdfly/local-data/x').code).toBe(0);
    // …while the project files themselves are meant to be committed.
    for (const f of ['fly.toml', 'Dockerfile', 'clawdbot.json', '.clawdfly/answers.json', 'runtime/package-lock.json']) {
      expect(git(dir, 'check-ignore', '-q', f).code, f).toBe(1);
    }
    const status = git(repo, 'status', '--porcelain', '--untracked-files=all').stdout;
    expect(status).toContain('gateway/fly.toml');
    expect(status).not.toContain('secrets.env');

    const dockerignore = readFileSync(join(dir, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(dockerignore).toContain('.clawdfly');
    expect(dockerignore.some((l) => l.startsWith('!'))).toBe(false);
  });

  it('--secrets-stdin reads NAME=VALUE lines (quoted or not, with # inside)', async () => {
    const dir = freshDir();
    const tricky = 'test-openai-with#hash-and=equals';
    const input = [
      '# comment line',
      `ANTHROPIC_API_KEY=${TEST_SECRETS.ANTHROPIC_API_KEY}`,
      `OPENAI_API_KEY="${tricky}"`,
      `DISCORD_BOT_TOKEN='${TEST_SECRETS.DISCORD_BOT_TOKEN}'`,
      '',
    ].join('\n');
    const result = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'stdin-claw', '--discord', '--secrets-stdin'], { input, secrets: [tricky] });
    expect(result.code, result.stderr).toBe(0);
    const secrets = readSecretsFile(dir);
    expect(secrets['ANTHROPIC_API_KEY']).toBe(TEST_SECRETS.ANTHROPIC_API_KEY);
    expect(secrets['OPENAI_API_KEY']).toBe(tricky);
    expect(secrets['DISCORD_BOT_TOKEN']).toBe(TEST_SECRETS.DISCORD_BOT_TOKEN);
    expect(result.stderr).not.toContain('no ANTHROPIC_API_KEY');
  });

  it('--secrets-stdin takes a quoted value literally: no escape is turned into a newline', async () => {
    const dir = freshDir();
    const literal = 'test-openai-back\\nslash';
    const result = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'stdin-literal', '--secrets-stdin'], { input: `OPENAI_API_KEY="${literal}"\n`, secrets: [literal] });
    expect(result.code, result.stderr).toBe(0);
    expect(readSecretsFile(dir)['OPENAI_API_KEY']).toBe(literal);
  });

  it('reuses the gateway token on re-run, and takes updated keys from the environment', async () => {
    const dir = freshDir();
    const first = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'rerun-claw'], { env: { ANTHROPIC_API_KEY: 'test-anthropic-first-0001' } });
    expect(first.code).toBe(0);
    const before = readSecretsFile(dir);

    // No keys in the environment: everything is kept.
    const again = await init(['--yes', '--dir', dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(readSecretsFile(dir)).toEqual(before);

    // A new key in the environment replaces the old one; the token stays.
    const rotated = await init(['--yes', '--dir', dir], {
      env: { ANTHROPIC_API_KEY: 'test-anthropic-second-0002', OPENAI_API_KEY: TEST_SECRETS.OPENAI_API_KEY },
      secrets: ['test-anthropic-first-0001'],
    });
    expect(rotated.code, rotated.stderr).toBe(0);
    const after = readSecretsFile(dir);
    expect(after['CLAWDBOT_GATEWAY_TOKEN']).toBe(before['CLAWDBOT_GATEWAY_TOKEN']);
    expect(after['ANTHROPIC_API_KEY']).toBe('test-anthropic-second-0002');
    expect(after['OPENAI_API_KEY']).toBe(TEST_SECRETS.OPENAI_API_KEY);
    expect(statSync(join(dir, '.clawdfly', 'secrets.env')).mode & 0o777).toBe(0o600);
  });

  it('a fresh project gets a fresh token', async () => {
    const a = freshDir();
    const b = freshDir();
    expect((await init(['--yes', '--runtime', 'clawdbot', '--dir', a, '--app', 'one-claw'])).code).toBe(0);
    expect((await init(['--yes', '--runtime', 'clawdbot', '--dir', b, '--app', 'two-claw'])).code).toBe(0);
    expect(readSecretsFile(a)['CLAWDBOT_GATEWAY_TOKEN']).not.toBe(readSecretsFile(b)['CLAWDBOT_GATEWAY_TOKEN']);
  });
});
