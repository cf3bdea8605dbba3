/**
 * The configs `clawdfly init --runtime openclaw` writes for DeepSeek, Qwen (DashScope), Kimi
 * (Moonshot) and GLM (Zhipu) pass the REAL openclaw's own `config validate --json` (openclaw@2026.9.6
 * from npm on Node 24, test/support/real-gateway.ts), through the same validateWithGateway clawdfly
 * runs before `up --local` and `config push`. The control: the same entry with an API adapter
 * openclaw does not have is rejected at that path, so the validator really reads the block.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { freshDir, init } from '../init/util.js';
import { defaultRuntimeDir, ensureNode24, ensureRuntime } from '../support/real-gateway.js';
import { validateWithGateway } from '../../src/gateway/validate.js';
import { findRuntime } from '../../src/gateway/runtime.js';
import { COMPATIBLE_PROVIDERS, suggestedModel } from '../../src/gateway/providers.js';

const RUNTIME_ID = 'openclaw@2026.9.6';
const runtime = findRuntime(RUNTIME_ID)!;
let node: string;
let entry: string;

beforeAll(async () => {
  node = await ensureNode24();
  entry = await ensureRuntime(await defaultRuntimeDir(RUNTIME_ID));
}, 30 * 60_000);

/** init's openclaw.json for a primary model and fallbacks (no keys at hand: they stay out of the file anyway). */
async function generated(model: string, fallbacks: string): Promise<string> {
  const dir = freshDir();
  const r = await init(['--yes', '--runtime', RUNTIME_ID, '--dir', dir, '--app', 'cn-validate', '--model', model, '--fallbacks', fallbacks]);
  expect(r.code, r.stderr).toBe(0);
  return join(dir, 'openclaw.json');
}

describe('Chinese providers against the real openclaw config validate', () => {
  it.each(Object.values(COMPATIBLE_PROVIDERS).map((p) => [p.label, suggestedModel(p)]))('%s (%s) is valid', async (_label, model) => {
    const file = await generated(model, 'anthropic/claude-sonnet-4-5');
    const config = JSON.parse(readFileSync(file, 'utf8'));
    expect(Object.keys(config.models.providers)).toEqual([model.split('/')[0]]);
    const verdict = await validateWithGateway(runtime, node, entry, file);
    expect(verdict).toEqual({ valid: true, problems: [], warnings: [] });
  }, 5 * 60_000);

  it('all four in one config (primary and fallbacks) is valid', async () => {
    const models = Object.values(COMPATIBLE_PROVIDERS).map(suggestedModel);
    const file = await generated(models[0]!, models.slice(1).join(','));
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).models.providers).sort()).toEqual(['deepseek', 'moonshot', 'qwen', 'zai']);
    expect(await validateWithGateway(runtime, node, entry, file)).toEqual({ valid: true, problems: [], warnings: [] });
  }, 5 * 60_000);

  it('control: an API adapter openclaw does not have is rejected at models.providers.deepseek.api', async () => {
    const file = await generated('deepseek/deepseek-chat', '');
    const config = JSON.parse(readFileSync(file, 'utf8'));
    config.models.providers.deepseek.api = 'deepseek-native';
    const broken = join(tempDir('clawdfly-cn-broken-'), 'openclaw.json');
    writeFileSync(broken, JSON.stringify(config, null, 2));
    const verdict = await validateWithGateway(runtime, node, entry, broken);
    expect(verdict.valid).toBe(false);
    expect(verdict.problems.map((p) => p.path)).toContain('models.providers.deepseek.api');
  }, 5 * 60_000);
});
