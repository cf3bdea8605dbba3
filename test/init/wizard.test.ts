/**
 * The interactive wizard on a real terminal: `script` (util-linux) gives the CLI a pseudo-terminal,
 * and the test answers each question when it appears, like a person would (expect-style), with
 * keys: text + Enter, arrows, space. Proves the prompts, their validation and the files written.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '../helpers/cli.js';
import { CTRL_U, DOWN, ENTER, onTerminal, SPACE, type Terminal } from '../helpers/terminal.js';
import { CLEAN_ENV, freshDir, readSecretsFile } from './util.js';

function wizard(dir: string, env: Record<string, string | undefined> = {}): Terminal {
  return onTerminal(['init', '--dir', dir], { ...process.env, ...CLEAN_ENV, NO_COLOR: '1', CI: undefined, TERM: 'xterm-256color', ...env }, { cols: 200, rows: 50 });
}

describe('init wizard on a terminal', () => {
  it('asks every question, validates answers in place, and writes the project', async () => {
    const dir = freshDir();
    const t = wizard(dir, { OPENAI_API_KEY: TEST_SECRETS.OPENAI_API_KEY });

    await t.expect('New gateway on Fly.io');
    // The gateway comes first (the app name and volume defaults follow it): OpenClaw recommended,
    // then the frozen Clawdbot; Enter takes OpenClaw.
    await t.expect(/Gateway[\s\S]*OpenClaw \(openclaw@2026\.9\.6, Node 24\) \(recommended\)[\s\S]*Clawdbot 2026\.1\.24-3 \(frozen; kept for existing deployments\)/);
    await t.send(ENTER);
    await t.expect(/Fly app name .*\(openclaw-[0-9a-f]{6}\)/);
    await t.send('Bad_Name', ENTER);
    await t.expect('invalid app name "Bad_Name"');
    await t.send(CTRL_U, 'wiz-claw', ENTER);
    await t.expect('Region');
    await t.send(DOWN, ENTER); // iad is first and the default; one down is lhr
    await t.expect(/VM size/);
    await t.send(ENTER); // shared-cpu-2x (default)
    await t.expect(/Memory in MB.*\(2048\)/);
    await t.send('512', ENTER);
    await t.expect('--memory 512 is too small');
    await t.send(CTRL_U, '4096', ENTER);
    await t.expect(/Volume name.*\(openclaw_data\)/);
    await t.send('wiz-vol', ENTER);
    await t.expect('invalid volume name "wiz-vol"');
    await t.send(CTRL_U, 'wiz_vol', ENTER);
    await t.expect(/Volume size in GB.*\(1\)/);
    await t.send(ENTER);
    await t.expect(/Gateway port.*\(3000\)/);
    await t.send(ENTER);
    // Only OPENAI_API_KEY is set: the provider it unlocks is preselected, and the default model is one
    // that key can run; the user keeps the provider, then picks Anthropic's model.
    await t.expect(/Model provider[\s\S]*❯ OpenAI/);
    await t.send(ENTER);
    await t.expect(/Primary model.*\(openai\/gpt-4o\)/);
    await t.send(CTRL_U, 'anthropic/claude-opus-4-5', ENTER);
    await t.expect(/Fallback models.*\(anthropic\/claude-sonnet-4-5, openai\/gpt-4o\)/);
    await t.send('none', ENTER);
    await t.expect(/Agent runs at once.*\(4\)/);
    await t.send('2', ENTER);
    await t.expect('Chat channels');
    await t.send(SPACE, ENTER); // Discord
    await t.expect('Discord guilds to allow');
    await t.send('42:general', ENTER);
    await t.expect('malformed Discord guild id "42"');
    await t.send(CTRL_U, '123456789012345678:general,random', ENTER);
    await t.expect('Reply in guild channels only when mentioned?');
    await t.send('n', ENTER);
    await t.expect('Private: no public address');
    await t.send('y', ENTER);
    await t.expect('Also deploy from GitHub Actions');
    await t.send(ENTER); // default: no
    await t.expect('Discord bot token');
    await t.send(TEST_SECRETS.DISCORD_BOT_TOKEN, ENTER);
    await t.expect('Anthropic API key');
    await t.send(TEST_SECRETS.ANTHROPIC_API_KEY, ENTER);
    await t.expect(/Cost: ≈ \$\d+\.\d\d\/month/);
    await t.expect(/Write \d+ file\(s\)/);
    await t.send(ENTER);
    await t.expect('Project ready for wiz-claw in lhr.');
    expect(await t.exited).toBe(0);

    // Masked: the typed secrets never reached the terminal.
    for (const secret of [TEST_SECRETS.DISCORD_BOT_TOKEN, TEST_SECRETS.ANTHROPIC_API_KEY, TEST_SECRETS.OPENAI_API_KEY]) {
      expect(t.text.includes(secret)).toBe(false);
    }
    const answers = JSON.parse(readFileSync(join(dir, '.clawdfly', 'answers.json'), 'utf8'));
    expect(answers).toMatchObject({
      app: 'wiz-claw', region: 'lhr', vmSize: 'shared-cpu-2x', memoryMb: 4096, volume: 'wiz_vol', volumeSizeGb: 1, port: 3000,
      model: { primary: 'anthropic/claude-opus-4-5', fallbacks: [] }, maxConcurrent: 2,
      discord: { guilds: [{ id: '123456789012345678', channels: ['general', 'random'] }], requireMention: false },
    });
    expect(answers.telegram).toBeUndefined();
    expect(answers.network).toBe('private');
    expect(answers.ci).toBeUndefined();
    expect(readFileSync(join(dir, 'fly.toml'), 'utf8')).toContain('force_https = false');
    const secrets = readSecretsFile(dir);
    expect(secrets['DISCORD_BOT_TOKEN']).toBe(TEST_SECRETS.DISCORD_BOT_TOKEN);
    expect(secrets['ANTHROPIC_API_KEY']).toBe(TEST_SECRETS.ANTHROPIC_API_KEY);
    expect(secrets['OPENCLAW_GATEWAY_TOKEN']).toMatch(/^[0-9a-f]{64}$/);
    expect(answers.runtime).toBe('openclaw@2026.9.6');
    expect(statSync(join(dir, '.clawdfly', 'secrets.env')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'fly.toml'), 'utf8')).toContain('source = "wiz_vol"');
  }, 90_000);

  it('Ctrl-C in the middle exits 130 and writes nothing', async () => {
    const dir = freshDir();
    const t = wizard(dir);
    await t.expect('Gateway');
    await t.send(ENTER);
    await t.expect('Fly app name');
    await t.send(ENTER);
    await t.expect('Region');
    await t.send('\x03');
    await t.expect('cancelled');
    expect(await t.exited).toBe(130);
    expect(() => statSync(dir)).toThrow();
  }, 60_000);
});
