/**
 * Defaults never configure a model whose provider key is missing: a fallback without its key only
 * turns a provider outage into an error, and doctor would flag it on a fresh deploy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '../helpers/cli.js';
import { freshDir, init } from './util.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

function models(dir: string): { primary: string; fallbacks: string[] } {
  return JSON.parse(readFileSync(join(dir, 'clawdbot.json'), 'utf8')).agents.defaults.model;
}

describe('init --yes default models', { timeout: 60_000 }, () => {
  it('with only ANTHROPIC_API_KEY, falls back to Anthropic models only', async () => {
    const dir = freshDir();
    const r = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'models-a'], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY } });
    expect(r.code, r.stderr).toBe(0);
    expect(models(dir)).toEqual({ primary: 'anthropic/claude-opus-4-5', fallbacks: ['anthropic/claude-sonnet-4-5'] });
    expect(r.stderr).not.toContain('OPENAI_API_KEY');
  });

  it('with only OPENAI_API_KEY, picks an OpenAI primary and no keyless fallback', async () => {
    const dir = freshDir();
    const r = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'models-o'], { env: { OPENAI_API_KEY: TEST_SECRETS.OPENAI_API_KEY } });
    expect(r.code, r.stderr).toBe(0);
    expect(models(dir)).toEqual({ primary: 'openai/gpt-4o', fallbacks: [] });
    expect(r.stderr).not.toMatch(/ANTHROPIC_API_KEY|GEMINI_API_KEY/);
  });

  it('with every key, chains every provider', async () => {
    const dir = freshDir();
    const env = { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY, OPENAI_API_KEY: TEST_SECRETS.OPENAI_API_KEY, GEMINI_API_KEY: TEST_SECRETS.GEMINI_API_KEY };
    const r = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'models-all'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(models(dir)).toEqual({ primary: 'anthropic/claude-opus-4-5', fallbacks: ['anthropic/claude-sonnet-4-5', 'openai/gpt-4o', 'google/gemini-2.5-pro'] });
  });

  it('with no key at all, writes one provider and names the one variable to set', async () => {
    const dir = freshDir();
    const r = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'models-none']);
    expect(r.code, r.stderr).toBe(0);
    expect(models(dir)).toEqual({ primary: 'anthropic/claude-opus-4-5', fallbacks: ['anthropic/claude-sonnet-4-5'] });
    expect(r.stderr).toContain('no ANTHROPIC_API_KEY');
    expect(r.stderr).not.toContain('OPENAI_API_KEY');
  });

  it('keeps fallbacks the user chose, keyed or not', async () => {
    const dir = freshDir();
    const r = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'models-own', '--fallbacks', 'openai/gpt-4o'], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY } });
    expect(r.code, r.stderr).toBe(0);
    expect(models(dir).fallbacks).toEqual(['openai/gpt-4o']);
    expect(r.stderr).toContain('no OPENAI_API_KEY');
  });
});
