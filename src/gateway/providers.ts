/**
 * Model providers many Chinese users use, written into the gateway config as OpenAI-compatible
 * `models.providers.<id>` entries (base URL, adapter, models, and an `apiKey` that is a reference to
 * an environment variable, never the key itself). Offered only for runtimes whose config schema has
 * that block: checked against the real `openclaw config schema` and `config validate` (2026.9.6, the
 * block is `models.providers.*` with `api: "openai-completions"`; test/image/china-providers.image.test.ts).
 *
 * The ids match openclaw's own provider plugins (deepseek, qwen, moonshot, zai), whose install needs
 * npm and clawhub at the gateway's start; an explicit entry needs neither.
 */
import { PROVIDER_KEYS } from './runtime.js';

export interface CompatibleProvider {
  id: string;
  label: string;
  /** The secret (Fly secret / .clawdfly/secrets.env line) the gateway reads the key from. */
  keyName: string;
  baseUrl: string;
  /** The models written into the entry, the first one the suggested primary. */
  models: { id: string; name: string; reasoning?: boolean }[];
}

export const COMPATIBLE_PROVIDERS: Record<string, CompatibleProvider> = {
  deepseek: {
    id: 'deepseek',
    label: 'DeepSeek',
    keyName: 'DEEPSEEK_API_KEY',
    baseUrl: 'https://api.deepseek.com/v1',
    models: [{ id: 'deepseek-chat', name: 'DeepSeek V3 (deepseek-chat)' }, { id: 'deepseek-reasoner', name: 'DeepSeek R1 (deepseek-reasoner)', reasoning: true }],
  },
  qwen: {
    id: 'qwen',
    label: 'Qwen (Alibaba DashScope / Model Studio)',
    keyName: 'DASHSCOPE_API_KEY',
    baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
    models: [{ id: 'qwen-max', name: 'Qwen Max' }, { id: 'qwen-plus', name: 'Qwen Plus' }],
  },
  moonshot: {
    id: 'moonshot',
    label: 'Moonshot AI (Kimi)',
    keyName: 'MOONSHOT_API_KEY',
    baseUrl: 'https://api.moonshot.cn/v1',
    models: [{ id: 'kimi-k2-0905-preview', name: 'Kimi K2' }],
  },
  zai: {
    id: 'zai',
    label: 'Zhipu GLM (智谱 BigModel)',
    keyName: 'ZAI_API_KEY',
    baseUrl: 'https://open.bigmodel.cn/api/paas/v4',
    models: [{ id: 'glm-4.6', name: 'GLM-4.6' }],
  },
};

export function findCompatibleProvider(provider: string): CompatibleProvider | undefined {
  return Object.hasOwn(COMPATIBLE_PROVIDERS, provider) ? COMPATIBLE_PROVIDERS[provider] : undefined;
}

/** `deepseek/deepseek-chat` for the provider's first model. */
export function suggestedModel(provider: CompatibleProvider): string {
  return `${provider.id}/${provider.models[0]!.id}`;
}

/**
 * The `models.providers` entries for the given model refs: every listed model of each provider the
 * refs name, plus any other model id a ref names (so the gateway knows each model it is asked for).
 */
export function providerEntries(modelRefs: string[]): Record<string, unknown> {
  const entries: Record<string, unknown> = {};
  for (const ref of modelRefs) {
    const id = ref.split('/')[0] ?? '';
    const provider = findCompatibleProvider(id);
    if (!provider || entries[id]) continue;
    const named = modelRefs.filter((r) => r.startsWith(`${id}/`)).map((r) => r.slice(id.length + 1));
    const models = [...provider.models];
    for (const modelId of named) if (!models.some((m) => m.id === modelId)) models.push({ id: modelId, name: modelId });
    entries[id] = {
      baseUrl: provider.baseUrl,
      api: 'openai-completions',
      // A reference: the gateway reads the key from its environment (a Fly secret), never from this file.
      apiKey: { source: 'env', provider: 'default', id: provider.keyName },
      models: models.map((m) => ({ id: m.id, name: m.name, ...(m.reasoning ? { reasoning: true } : {}) })),
    };
  }
  return entries;
}

/** The secret a provider's key lives in: the built-in ones (PROVIDER_KEYS), then the table above. */
export function providerKeyName(provider: string): string | undefined {
  return (PROVIDER_KEYS as Record<string, string>)[provider] ?? findCompatibleProvider(provider)?.keyName;
}

/** Every provider key name clawdfly knows. */
export function allProviderKeyNames(): string[] {
  return [...Object.values(PROVIDER_KEYS), ...Object.values(COMPATIBLE_PROVIDERS).map((p) => p.keyName)];
}
