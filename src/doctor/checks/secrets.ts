/** secrets: the provider key of the primary model and every enabled channel's token are set on Fly. */
import { t } from '../../i18n/index.js';
import { CHANNEL_TOKENS } from '../../gateway/runtime.js';
import { providerKeyName } from '../../gateway/providers.js';
import { effectiveConfig } from '../evidence.js';
import type { Check, Evidence } from '../types.js';
import { app, missing } from './common.js';

/** Alternatives the gateway accepts for a provider (gateway.md §3.3: ANTHROPIC_OAUTH_TOKEN > ANTHROPIC_API_KEY). */
const ALTERNATIVES: Record<string, string[]> = { ANTHROPIC_API_KEY: ['ANTHROPIC_OAUTH_TOKEN'] };

export interface NeededSecrets {
  required: { name: string; why: string }[];
  optional: { name: string; why: string }[];
}

export function neededSecrets(ev: Evidence): NeededSecrets {
  const { value } = effectiveConfig(ev);
  const required: NeededSecrets['required'] = [];
  const optional: NeededSecrets['optional'] = [];
  const model = (value?.['agents'] as { defaults?: { model?: { primary?: unknown; fallbacks?: unknown } } } | undefined)?.defaults?.model;
  const keyOf = (ref: unknown) => (typeof ref === 'string' ? providerKeyName(ref.split('/')[0] ?? '') : undefined);
  const primary = keyOf(model?.primary);
  if (primary) required.push({ name: primary, why: t('doctor.secrets.whyPrimary', { model: String(model?.primary) }) });
  for (const fb of Array.isArray(model?.fallbacks) ? model.fallbacks : []) {
    const key = keyOf(fb);
    if (key && key !== primary && !optional.some((o) => o.name === key)) optional.push({ name: key, why: t('doctor.secrets.whyFallback', { model: String(fb) }) });
  }
  const channels = (value?.['channels'] ?? {}) as Record<string, { enabled?: unknown; token?: unknown; botToken?: unknown } | undefined>;
  for (const [channel, token] of Object.entries(CHANNEL_TOKENS)) {
    const c = channels[channel];
    if (!c || c.enabled === false || c.token || c.botToken) continue;
    required.push({ name: token, why: t('doctor.secrets.whyChannel', { channel }) });
  }
  return { required, optional };
}

export const secretsCheck: Check = {
  id: 'secrets',
  title: 'provider and channel secrets set',
  run(ev) {
    const needed = neededSecrets(ev);
    if (ev.offline) {
      const absent = needed.required.filter((n) => !ev.project.secrets[n.name]);
      if (absent.length) return { status: 'warn', summary: t('doctor.secrets.offlineMissing', { names: absent.map((n) => n.name).join(', ') }), fix: 'clawdfly init --secrets-stdin' };
      return { status: 'ok', summary: t('doctor.secrets.offlineOk', { names: needed.required.map((n) => n.name).join(', ') || t('doctor.secrets.nothingRequired') }) };
    }
    const skip = missing(ev, ev.secrets, 'the secret names');
    if (skip) return skip;
    const list = ev.secrets!.value!;
    const names = new Set(list.map((s) => s.name));
    const has = (name: string) => names.has(name) || (ALTERNATIVES[name] ?? []).some((a) => names.has(a));
    const absent = needed.required.filter((n) => !has(n.name));
    const absentOptional = needed.optional.filter((n) => !has(n.name));
    const staged = list.filter((s) => s.status?.toLowerCase() === 'staged');
    const evidence = [`flyctl secrets list: ${list.map((s) => `${s.name}${s.status ? ` (${s.status})` : ''}`).join(', ') || '(none)'}`];
    const token = ev.project.runtime.env.gatewayToken;
    const tokenNote = names.has(token) ? '' : t('doctor.secrets.tokenNote', { secret: token });
    if (absent.length) {
      return {
        status: 'fail',
        summary: t('doctor.secrets.notOnFly', { list: absent.map((n) => `${n.name} (${n.why})`).join(', ') }) + tokenNote,
        evidence,
        fix: `${absent.map((n) => `printf '${n.name}=%s\\n' "$${n.name}"`).join('; ')} | fly secrets import -a ${app(ev)}   ${t('doctor.secrets.fixImport')}`,
      };
    }
    if (staged.length || absentOptional.length) {
      return {
        status: 'warn',
        summary: [
          staged.length ? t('doctor.secrets.staged', { names: staged.map((s) => s.name).join(', ') }) : '',
          absentOptional.length ? t('doctor.secrets.notSet', { list: absentOptional.map((n) => `${n.name} (${n.why})`).join(', ') }) : '',
        ].filter(Boolean).join('; ') + tokenNote,
        evidence,
        fix: staged.length ? 'clawdfly deploy' : undefined,
      };
    }
    return { status: 'ok', summary: t('doctor.secrets.ok', { names: needed.required.map((n) => n.name).join(', ') || t('doctor.secrets.noneNeeded') }) + tokenNote };
  },
  fixKind: () => 'secrets',
};
