/**
 * DeepSeek, Qwen (DashScope), Kimi (Moonshot) and GLM (Zhipu) for the openclaw runtime: each model
 * gets an OpenAI-compatible models.providers entry whose key is a reference to an environment
 * variable, the key itself only in .clawdfly/secrets.env; clawdbot (whose schema was not checked
 * for it) refuses them with the flag that fixes it. The real openclaw judges these configs in
 * test/image/china-providers.image.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '../helpers/cli.js';
import { freshDir, init, readSecretsFile } from './util.js';
import { isNearChina, regionOrder } from '../../src/project/fly-platform.js';

const CASES = [
  { model: 'deepseek/deepseek-chat', provider: 'deepseek', key: 'DEEPSEEK_API_KEY', baseUrl: 'https://api.deepseek.com/v1' },
  { model: 'qwen/qwen-max', provider: 'qwen', key: 'DASHSCOPE_API_KEY', baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1' },
  { model: 'moonshot/kimi-k2-0905-preview', provider: 'moonshot', key: 'MOONSHOT_API_KEY', baseUrl: 'https://api.moonshot.cn/v1' },
  { model: 'zai/glm-4.6', provider: 'zai', key: 'ZAI_API_KEY', baseUrl: 'https://open.bigmodel.cn/api/paas/v4' },
];

describe('Chinese model providers (openclaw)', () => {
  it.each(CASES)('$model: a models.providers entry with an env reference; the key only in secrets.env', async ({ model, provider, key, baseUrl }) => {
    const dir = freshDir();
    const secret = `test-${provider}-5e3c1a9b7d`;
    const r = await init(['--yes', '--runtime', 'openclaw', '--dir', dir, '--app', 'cn-claw', '--model', model, '--fallbacks', 'anthropic/claude-sonnet-4-5'], {
      env: { [key]: secret, ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY },
      secrets: [secret],
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(secret);
    const text = readFileSync(join(dir, 'openclaw.json'), 'utf8');
    expect(text).not.toContain(secret);
    const config = JSON.parse(text);
    expect(config.agents.defaults.model).toEqual({ primary: model, fallbacks: ['anthropic/claude-sonnet-4-5'] });
    const entry = config.models.providers[provider];
    expect(entry).toMatchObject({ baseUrl, api: 'openai-completions', apiKey: { source: 'env', provider: 'default', id: key } });
    expect(entry.models.map((m: { id: string }) => `${provider}/${m.id}`)).toContain(model);
    expect(Object.keys(config.models.providers)).toEqual([provider]);
    // The entry carries its key reference; the built-in provider keeps its auth profile.
    expect(Object.keys(config.auth.profiles)).toEqual(['anthropic:default']);
    expect(readSecretsFile(dir)[key]).toBe(secret);
  });

  it('a model id the table does not list is added to the entry', async () => {
    const dir = freshDir();
    const r = await init(['--yes', '--runtime', 'openclaw', '--dir', dir, '--app', 'cn-claw', '--model', 'qwen/qwen3-coder-plus', '--fallbacks', 'qwen/qwen-plus']);
    expect(r.code, r.stderr).toBe(0);
    const ids = JSON.parse(readFileSync(join(dir, 'openclaw.json'), 'utf8')).models.providers.qwen.models.map((m: { id: string }) => m.id);
    expect(ids).toEqual(['qwen-max', 'qwen-plus', 'qwen3-coder-plus']);
    expect(r.stderr).toContain('no DASHSCOPE_API_KEY');
  });

  it('built-in providers only: no models block (the config is as before)', async () => {
    const dir = freshDir();
    const r = await init(['--yes', '--runtime', 'openclaw', '--dir', dir, '--app', 'cn-claw']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'openclaw.json'), 'utf8')).models).toBeUndefined();
  });

  it('only a DeepSeek key at hand: openclaw defaults to DeepSeek', async () => {
    const dir = freshDir();
    const r = await init(['--yes', '--runtime', 'openclaw', '--dir', dir, '--app', 'cn-claw'], { env: { DEEPSEEK_API_KEY: TEST_SECRETS.DEEPSEEK_API_KEY } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, '.clawdfly', 'answers.json'), 'utf8')).model.primary).toBe('deepseek/deepseek-chat');
  });

  it('clawdbot refuses them: exit 2, the runtime that has them, nothing written', async () => {
    const dir = freshDir();
    const r = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--model', 'deepseek/deepseek-chat']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DeepSeek models need the openclaw runtime');
    expect(r.stderr).toContain('--runtime openclaw');
    const fallback = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--fallbacks', 'zai/glm-4.6']);
    expect(fallback.code).toBe(2);
    expect(fallback.stderr).toContain('--fallbacks anthropic/claude-opus-4-5');
  });
});

describe('regions near China', () => {
  it('China, Hong Kong, Macau and Taiwan start at the closest real regions (no hkg on Fly)', () => {
    for (const tz of ['Asia/Shanghai', 'Asia/Hong_Kong', 'Asia/Macau', 'Asia/Taipei', 'Asia/Urumqi', 'PRC']) {
      expect(isNearChina(tz), tz).toBe(true);
      expect(regionOrder(tz).slice(0, 4), tz).toEqual(['nrt', 'sin', 'bom', 'syd']);
    }
    expect(regionOrder('Asia/Shanghai')).not.toContain('hkg');
  });

  it('elsewhere the usual order stays (iad first), and every region is listed once', () => {
    for (const tz of ['Europe/Berlin', 'America/New_York', 'UTC', undefined]) {
      expect(isNearChina(tz)).toBe(false);
      expect(regionOrder(tz)[0]).toBe('iad');
    }
    const order = regionOrder('Asia/Shanghai');
    expect(new Set(order).size).toBe(order.length);
    expect([...order].sort()).toEqual([...regionOrder('UTC')].sort());
  });
});
