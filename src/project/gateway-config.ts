/**
 * Builds the gateway config file from the answers. No token or key is ever written into it: the gateway
 * reads DISCORD_BOT_TOKEN etc. from the environment, and a gateway.auth.token in the file would
 * silently beat the gateway token secret (gateway.md §3.2).
 */
import type { Answers } from './answers.js';
import { providersOf } from './answers.js';
import { findRuntime, SIGNAL_CLI_PATH, STATE_DIR, WORKSPACE_SUBDIR } from '../gateway/runtime.js';
import type { ClawdbotConfig } from '../gateway/schema.js';

/**
 * The config in the shape of the project's runtime. OpenClaw's differences were measured with its own
 * `config validate` (2026.9.6): keyed agents.entries without `default` markers, Discord channel
 * entries `{ enabled }` (not `{ allow }`), and signal-cli's path under channels.signal.transport.
 */
export function buildGatewayConfig(answers: Answers): Record<string, unknown> {
  const runtime = findRuntime(answers.runtime)!;
  const config = buildClawdbotConfig(answers, runtime.displayVersion);
  return runtime.configDialect === 'openclaw' ? toOpenClawShape(config) : config;
}

function toOpenClawShape(config: ClawdbotConfig): Record<string, unknown> {
  const { list: _list, ...agentsRest } = config.agents ?? {};
  const discord = config.channels?.discord;
  const signal = config.channels?.signal;
  const channels: Record<string, unknown> = { ...config.channels };
  if (discord?.guilds) {
    channels['discord'] = {
      ...discord,
      guilds: Object.fromEntries(
        Object.entries(discord.guilds).map(([id, guild]) => [
          id,
          { ...guild, ...(guild.channels ? { channels: Object.fromEntries(Object.keys(guild.channels).map((name) => [name, { enabled: true }])) } : {}) },
        ]),
      ),
    };
  }
  if (signal) {
    const { cliPath, ...rest } = signal as { cliPath?: string } & Record<string, unknown>;
    channels['signal'] = { ...rest, transport: { kind: 'managed-native', cliPath } };
  }
  return {
    ...config,
    agents: { ...agentsRest, entries: { main: {} } },
    ...(config.channels ? { channels } : {}),
  };
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
