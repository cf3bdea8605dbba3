/**
 * clawdbot.json, validated the way the gateway validates it (zod v4, strict objects; the
 * same messages: `<root>: Unrecognized key: "foo"`, `gateway.port: Invalid input: expected
 * number, received string`). The parts clawdfly writes and edits are modelled field by field;
 * the rest of each section is known by key name only (its value is the gateway's business),
 * so an unknown key is refused here as it is there. Key lists were read from the
 * clawdbot 2026.1.24-3 schema.
 */
import { z } from 'zod';

/** A strict object: modelled fields, plus other known keys whose values we do not check. */
function section<T extends z.ZodRawShape>(modelled: T, otherKeys: readonly string[] = []) {
  const others: Record<string, z.ZodOptional<z.ZodUnknown>> = {};
  for (const key of otherKeys) if (!(key in modelled)) others[key] = z.unknown().optional();
  // The other keys are typed away: clawdfly never reads them, it only must not refuse them.
  return z.object({ ...others, ...modelled } as T).strict();
}

/**
 * An enum the way the gateway declares it: a union of literals, so a bad value reads
 * `Invalid input` exactly like the gateway's message (z.enum would say `Invalid option: …`).
 */
function oneOf<const T extends readonly [string, string, ...string[]]>(...values: T) {
  return z.union(values.map((v) => z.literal(v)) as unknown as [z.ZodLiteral<T[number]>, z.ZodLiteral<T[number]>, ...z.ZodLiteral<T[number]>[]]);
}

const modelRef = z.object({ primary: z.string().optional(), fallbacks: z.array(z.string()).optional() }).strict();
const dmPolicy = oneOf('pairing', 'allowlist', 'open', 'disabled');
const groupPolicy = oneOf('open', 'disabled', 'allowlist');

/** `dmPolicy: "open"` needs `"*"` in allowFrom (gateway rule, same message). */
function requireOpenAllowFrom(prefix: string) {
  return (value: { policy?: string; dmPolicy?: string; allowFrom?: (string | number)[] }, ctx: z.RefinementCtx) => {
    const policy = value.policy ?? value.dmPolicy;
    if (policy === 'open' && !(value.allowFrom ?? []).map(String).includes('*')) {
      ctx.addIssue({
        code: 'custom',
        path: ['allowFrom'],
        message: `${prefix}="open" requires ${prefix.replace(/(dm\.)?(policy|dmPolicy)$/, '')}allowFrom to include "*"`,
      });
    }
  };
}

const guildChannel = section(
  {
    allow: z.boolean().optional(),
    requireMention: z.boolean().optional(),
    enabled: z.boolean().optional(),
    users: z.array(z.union([z.string(), z.number()])).optional(),
    systemPrompt: z.string().optional(),
    autoThread: z.boolean().optional(),
  },
  ['tools', 'skills'],
);

const guild = section(
  {
    slug: z.string().optional(),
    requireMention: z.boolean().optional(),
    users: z.array(z.union([z.string(), z.number()])).optional(),
    channels: z.record(z.string(), guildChannel).optional(),
  },
  ['tools', 'reactionNotifications'],
);

const discord = section(
  {
    enabled: z.boolean().optional(),
    token: z.string().optional(),
    groupPolicy: groupPolicy.optional(),
    guilds: z.record(z.string(), guild).optional(),
    dm: section({
      enabled: z.boolean().optional(),
      policy: dmPolicy.optional(),
      allowFrom: z.array(z.union([z.string(), z.number()])).optional(),
      groupEnabled: z.boolean().optional(),
      groupChannels: z.array(z.union([z.string(), z.number()])).optional(),
    })
      .superRefine(requireOpenAllowFrom('channels.discord.dm.policy'))
      .optional(),
    allowBots: z.boolean().optional(),
    historyLimit: z.number().int().min(0).optional(),
    textChunkLimit: z.number().int().positive().optional(),
  },
  ['name', 'capabilities', 'markdown', 'commands', 'configWrites', 'dmHistoryLimit', 'dms', 'chunkMode', 'blockStreaming',
    'blockStreamingCoalesce', 'maxLinesPerMessage', 'mediaMaxMb', 'retry', 'actions', 'replyToMode', 'heartbeat',
    'execApprovals', 'accounts'],
);

const telegram = section(
  {
    enabled: z.boolean().optional(),
    botToken: z.string().optional(),
    tokenFile: z.string().optional(),
    dmPolicy: dmPolicy.optional(),
    allowFrom: z.array(z.union([z.string(), z.number()])).optional(),
    groupAllowFrom: z.array(z.union([z.string(), z.number()])).optional(),
    groupPolicy: groupPolicy.optional(),
    streamMode: oneOf('off', 'partial', 'block').optional(),
  },
  ['name', 'capabilities', 'markdown', 'commands', 'customCommands', 'configWrites', 'replyToMode', 'groups', 'historyLimit',
    'dmHistoryLimit', 'dms', 'textChunkLimit', 'chunkMode', 'blockStreaming', 'draftChunk', 'blockStreamingCoalesce',
    'mediaMaxMb', 'timeoutSeconds', 'retry', 'proxy', 'webhookUrl', 'webhookSecret', 'webhookPath', 'actions',
    'reactionNotifications', 'reactionLevel', 'heartbeat', 'linkPreview', 'accounts'],
).superRefine(requireOpenAllowFrom('channels.telegram.dmPolicy'));

/** Built-in channel ids and the bundled extension channels; anything else is refused like the gateway does. */
export const KNOWN_CHANNEL_IDS = [
  'defaults', 'whatsapp', 'telegram', 'discord', 'googlechat', 'slack', 'signal', 'imessage', 'bluebubbles', 'msteams',
  'line', 'matrix', 'mattermost', 'nextcloud-talk', 'nostr', 'tlon', 'zalo', 'zalouser', 'voice-call',
] as const;

const channels = z
  .object({ discord: discord.optional(), telegram: telegram.optional() })
  .catchall(z.unknown())
  .superRefine((value, ctx) => {
    for (const key of Object.keys(value)) {
      if (!(KNOWN_CHANNEL_IDS as readonly string[]).includes(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `unknown channel id: ${key}` });
      }
    }
  });

const agentDefaults = section(
  {
    model: modelRef.optional(),
    imageModel: modelRef.optional(),
    workspace: z.string().optional(),
    maxConcurrent: z.number().int().positive().optional(),
    subagents: section({ maxConcurrent: z.number().int().positive().optional() }, ['archiveAfterMinutes', 'model']).optional(),
    userTimezone: z.string().optional(),
    contextTokens: z.number().int().positive().optional(),
  },
  ['models', 'repoRoot', 'skipBootstrap', 'bootstrapMaxChars', 'timeFormat', 'envelopeTimezone', 'envelopeTimestamp',
    'envelopeElapsed', 'cliBackends', 'memorySearch', 'contextPruning', 'compaction', 'thinkingDefault', 'verboseDefault',
    'elevatedDefault', 'blockStreamingDefault', 'blockStreamingBreak', 'blockStreamingChunk', 'blockStreamingCoalesce',
    'humanDelay', 'timeoutSeconds', 'mediaMaxMb', 'typingIntervalSeconds', 'typingMode', 'heartbeat', 'sandbox'],
);

const agentEntry = section(
  {
    id: z.string(),
    default: z.boolean().optional(),
    name: z.string().optional(),
    workspace: z.string().optional(),
    agentDir: z.string().optional(),
    model: z.union([z.string(), modelRef]).optional(),
  },
  ['memorySearch', 'humanDelay', 'heartbeat', 'identity', 'groupChat', 'subagents', 'sandbox', 'tools'],
);

const binding = section({
  agentId: z.string(),
  match: section({
    channel: z.string(),
    accountId: z.string().optional(),
    peer: section({ kind: oneOf('dm', 'group', 'channel'), id: z.string() }).optional(),
    guildId: z.string().optional(),
    teamId: z.string().optional(),
  }),
});

const gateway = section(
  {
    port: z.number().int().positive().optional(),
    mode: oneOf('local', 'remote').optional(),
    bind: oneOf('auto', 'lan', 'loopback', 'custom', 'tailnet').optional(),
    controlUi: section({ enabled: z.boolean().optional(), basePath: z.string().optional(), allowInsecureAuth: z.boolean().optional() }).optional(),
    auth: section({
      mode: oneOf('token', 'password').optional(),
      token: z.string().optional(),
      password: z.string().optional(),
      allowTailscale: z.boolean().optional(),
    }).optional(),
    trustedProxies: z.array(z.string()).optional(),
    reload: section({ mode: oneOf('off', 'restart', 'hot', 'hybrid').optional(), debounceMs: z.number().int().min(0).optional() }).optional(),
  },
  ['tailscale', 'remote', 'tls', 'http', 'nodes'],
);

export const ClawdbotConfigSchema = section(
  {
    meta: section({ lastTouchedVersion: z.string().optional(), lastTouchedAt: z.string().optional() }).optional(),
    agents: section({ defaults: agentDefaults.optional(), list: z.array(agentEntry).optional() }).optional(),
    auth: section(
      {
        profiles: z
          .record(z.string(), section({ provider: z.string(), mode: oneOf('api_key', 'oauth', 'token'), email: z.string().optional() }))
          .optional(),
        order: z.record(z.string(), z.array(z.string())).optional(),
      },
      ['cooldowns'],
    ).optional(),
    bindings: z.array(binding).optional(),
    channels: channels.optional(),
    gateway: gateway.optional(),
    update: section({ channel: z.string().optional(), checkOnStart: z.boolean().optional() }).optional(),
    plugins: section(
      { entries: z.record(z.string(), section({ enabled: z.boolean().optional() }, ['config'])).optional() },
      ['enabled', 'allow', 'deny', 'load', 'slots', 'installs'],
    ).optional(),
    commands: section({ native: z.unknown().optional(), nativeSkills: z.unknown().optional(), restart: z.boolean().optional() },
      ['text', 'bash', 'bashForegroundMs', 'config', 'debug', 'useAccessGroups']).optional(),
  },
  ['env', 'wizard', 'diagnostics', 'logging', 'browser', 'ui', 'models', 'nodeHost', 'tools', 'broadcast', 'audio', 'media',
    'messages', 'approvals', 'session', 'cron', 'hooks', 'web', 'discovery', 'canvasHost', 'talk', 'skills'],
);

export type ClawdbotConfig = z.infer<typeof ClawdbotConfigSchema>;

export interface ConfigProblem {
  /** Dotted path as the gateway prints it (`<root>` for the top level). */
  path: string;
  message: string;
  /** 1-based line in the file, when the file text is known. */
  line?: number;
}

export function formatPath(segments: readonly PropertyKey[]): string {
  return segments.length === 0 ? '<root>' : segments.map(String).join('.');
}

export function validateConfigObject(value: unknown): ConfigProblem[] {
  const result = ClawdbotConfigSchema.safeParse(value);
  if (result.success) return [];
  return result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

/** A config that has never seen the gateway is the one we sent; these keys the gateway writes itself. */
export const GATEWAY_OWNED_KEYS = ['meta'] as const;
