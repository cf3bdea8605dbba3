/**
 * Builds the gateway config file from the answers. No token or key is ever written into it: the gateway
 * reads DISCORD_BOT_TOKEN etc. from the environment, and a gateway.auth.token in the file would
 * silently beat the gateway token secret (gateway.md §3.2).
 */
import type { Answers } from './answers.js';
import { providersOf } from './answers.js';
import { DEFAULT_GATEWAY_PORT, findRuntime, SIGNAL_CLI_PATH, STATE_DIR, WORKSPACE_SUBDIR, type GatewayRuntime } from '../gateway/runtime.js';
import type { ClawdbotConfig } from '../gateway/schema.js';
import { exposureOf } from './network.js';
import { findCompatibleProvider, providerEntries } from '../gateway/providers.js';

/**
 * The config in the shape of the project's runtime. OpenClaw's differences were measured with its own
 * `config validate` (2026.9.6): keyed agents.entries without `default` markers, Discord channel
 * entries `{ enabled }` (not `{ allow }`), and signal-cli's path under channels.signal.transport.
 */
export function buildGatewayConfig(answers: Answers): Record<string, unknown> {
  const runtime = findRuntime(answers.runtime)!;
  const config = buildClawdbotConfig(answers, runtime.displayVersion);
  if (runtime.configDialect !== 'agents-entries') return config;
  // The same origins `clawdfly upgrade` adds: without them OpenClaw refuses the Control UI's browser.
  const shaped = withControlUiOrigins(toOpenClawShape(config as Record<string, unknown>), controlUiOrigins(answers.app, exposureOf(answers)));
  return runtime.compatibleProviders ? withCompatibleProviders(shaped, [answers.model.primary, ...answers.model.fallbacks]) : shaped;
}

/**
 * DeepSeek, Qwen, Kimi, GLM (src/gateway/providers.ts): a `models.providers` entry each, whose key
 * comes from the environment; no auth profile (the entry carries its key reference).
 */
function withCompatibleProviders(config: Obj, modelRefs: string[]): Obj {
  const entries = providerEntries(modelRefs);
  if (Object.keys(entries).length === 0) return config;
  const auth = isObj(config['auth']) ? config['auth'] : {};
  const profiles = Object.fromEntries(Object.entries(isObj(auth['profiles']) ? auth['profiles'] : {}).filter(([name]) => !findCompatibleProvider(name.split(':')[0] ?? '')));
  return { ...config, auth: { ...auth, profiles }, models: { mode: 'merge', providers: entries } };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A config in the agents.list shape (init's, or one the user edited) in the agents.entries one: `agents.list` becomes
 * keyed `agents.entries` without the retired `default` markers, Discord channel entries `{ allow }`
 * become `{ enabled }`, and signal-cli's path moves under `channels.signal.transport`. Everything
 * else is kept as it is. A config already in that shape comes back unchanged.
 */
export function toOpenClawShape(config: Obj): Obj {
  const result: Obj = { ...config };
  const agents = config['agents'];
  if (isObj(agents) && Array.isArray(agents['list'])) {
    const { list, ...agentsRest } = agents;
    const entries: Obj = isObj(agentsRest['entries']) ? { ...agentsRest['entries'] } : {};
    for (const item of list as unknown[]) {
      if (!isObj(item) || typeof item['id'] !== 'string') continue;
      const { id, default: _default, ...rest } = item;
      entries[id as string] = { ...(isObj(entries[id as string]) ? (entries[id as string] as Obj) : {}), ...rest };
    }
    result['agents'] = { ...agentsRest, entries };
  }
  const channels = config['channels'];
  if (isObj(channels)) {
    const next: Obj = { ...channels };
    const discord = channels['discord'];
    if (isObj(discord) && isObj(discord['guilds'])) {
      next['discord'] = {
        ...discord,
        guilds: Object.fromEntries(
          Object.entries(discord['guilds']).map(([id, guild]) => {
            if (!isObj(guild) || !isObj(guild['channels'])) return [id, guild];
            const guildChannels = Object.fromEntries(
              Object.entries(guild['channels']).map(([name, entry]) => {
                if (!isObj(entry) || !('allow' in entry)) return [name, entry];
                const { allow, ...rest } = entry;
                return [name, { ...rest, enabled: allow !== false }];
              }),
            );
            return [id, { ...guild, channels: guildChannels }];
          }),
        ),
      };
    }
    const signal = channels['signal'];
    if (isObj(signal) && 'cliPath' in signal) {
      const { cliPath, ...rest } = signal;
      next['signal'] = { ...rest, transport: { kind: 'managed-native', ...(isObj(rest['transport']) ? rest['transport'] : {}), cliPath } };
    }
    result['channels'] = next;
  }
  return result;
}

/**
 * The user's config, carried from one runtime row to another (`clawdfly upgrade`): reshaped for the
 * target's dialect, with `meta.lastTouchedVersion` naming the target. Returns formatted text.
 */
export function migrateGatewayConfig(config: Obj, to: GatewayRuntime): string {
  const shaped = to.configDialect === 'agents-entries' ? toOpenClawShape(config) : { ...config };
  const meta = isObj(shaped['meta']) ? shaped['meta'] : {};
  return formatConfig({ ...shaped, meta: { ...meta, lastTouchedVersion: to.displayVersion } });
}

function buildClawdbotConfig(answers: Answers, displayVersion: string): ClawdbotConfig {
  const channels: NonNullable<ClawdbotConfig['channels']> = {};
  const bindings: NonNullable<ClawdbotConfig['bindings']> = [];

  if (answers.discord) {
    const guilds: Record<string, { requireMention: boolean; channels?: Record<string, { allow: boolean }> }> = {};
    for (const guild of answers.discord.guilds) {
      guilds[guild.id] = {
        requireMention: answers.discord.requireMention,
        ...(guild.channels.length > 0 ? { channels: Object.fromEntries(guild.channels.map((c) => [c, { allow: true }])) } : {}),
      };
    }
    channels.discord = { enabled: true, groupPolicy: 'allowlist', ...(answers.discord.guilds.length > 0 ? { guilds } : {}) };
    bindings.push({ agentId: 'main', match: { channel: 'discord' } });
  }
  if (answers.telegram) {
    // DMs need pairing approval; groups stay closed until allow-listed.
    channels.telegram = { enabled: true, dmPolicy: 'pairing', groupPolicy: 'allowlist' };
    bindings.push({ agentId: 'main', match: { channel: 'telegram' } });
  }
  if (answers.signal) {
    channels.signal = { dmPolicy: 'pairing', groupPolicy: 'allowlist', cliPath: SIGNAL_CLI_PATH, ...(answers.signalAccount ? { account: answers.signalAccount } : {}) };
    bindings.push({ agentId: 'main', match: { channel: 'signal' } });
  }

  const profiles = Object.fromEntries(providersOf(answers).map((p) => [`${p}:default`, { provider: p, mode: 'api_key' as const }]));

  const config: ClawdbotConfig = {
    meta: { lastTouchedVersion: displayVersion },
    agents: {
      defaults: {
        model: { primary: answers.model.primary, fallbacks: [...answers.model.fallbacks] },
        maxConcurrent: answers.maxConcurrent,
        // Otherwise the workspace is $HOME/clawd: outside the volume, lost on every restart.
        workspace: `${STATE_DIR}/${WORKSPACE_SUBDIR}`,
      },
      list: [{ id: 'main', default: true }],
    },
    auth: { profiles },
    ...(bindings.length > 0 ? { bindings } : {}),
    ...(Object.keys(channels).length > 0 ? { channels } : {}),
    gateway: { mode: 'local', bind: 'lan' },
  };
  return config;
}

export function formatConfig(config: unknown): string {
  return JSON.stringify(config, null, 2) + '\n';
}

/**
 * Where browsers reach the Control UI of a deployed gateway: OpenClaw (since 2026.2.26) accepts
 * browser connections only from `gateway.controlUi.allowedOrigins`, and with `--bind lan` it seeds
 * only its localhost origins (shared/reference, the newer gateway's notes). Public: the fly.dev URL. Private: the
 * Flycast URL and `clawdfly open`'s tunnel on 127.0.0.1.
 */
export function controlUiOrigins(app: string, exposure: 'public' | 'private'): string[] {
  return exposure === 'private' ? [`http://${app}.flycast`, `http://127.0.0.1:${DEFAULT_GATEWAY_PORT}`, `http://localhost:${DEFAULT_GATEWAY_PORT}`] : [`https://${app}.fly.dev`];
}

/** The config with these origins in gateway.controlUi.allowedOrigins (the ones already there kept, first). */
export function withControlUiOrigins(config: Record<string, unknown>, origins: string[]): Record<string, unknown> {
  const gateway = isObj(config['gateway']) ? config['gateway'] : {};
  const controlUi = isObj(gateway['controlUi']) ? gateway['controlUi'] : {};
  const had = Array.isArray(controlUi['allowedOrigins']) ? (controlUi['allowedOrigins'] as unknown[]) : [];
  const merged = [...had, ...origins.filter((o) => !had.includes(o))];
  return { ...config, gateway: { ...gateway, controlUi: { ...controlUi, allowedOrigins: merged } } };
}
