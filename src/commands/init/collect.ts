/**
 * Resolving init's answers: a flag (or its CLAWDFLY_* variable) wins, then the wizard (on a
 * terminal, without --yes), then the previous run's answer, then the default.
 */
import type { CommandOptions } from '../types.js';
import type { initSpec } from './spec.js';
import { UsageError } from '../../errors.js';
import {
  type Answers, DEFAULTS, checkAppName, checkMaxConcurrent, checkMemory, checkModel, checkModelForRuntime, checkNpmRegistry, checkPort, checkRegion, checkRuntime, checkSignalAccount,
  checkVmSize, checkVolumeName, checkVolumeSize, DEFAULT_MODEL_CHAIN, defaultAppName, defaultFallbackModels, defaultPrimaryModel, parseGuild, providerOf, providersOf, RECOMMENDED_MEMORY_MB,
} from '../../project/answers.js';
import { isNearChina, regionOrder, REGIONS, userTimeZone, VM_PRESETS, estimateMonthlyCost } from '../../project/fly-platform.js';
import { CHANNEL_TOKENS, defaultAppPrefix, defaultVolumeName, findRuntime, LEGACY_RUNTIME_ID, PROVIDER_KEYS, type GatewayRuntime } from '../../gateway/runtime.js';
import { allProviderKeyNames, COMPATIBLE_PROVIDERS, findCompatibleProvider, providerKeyName, suggestedModel } from '../../gateway/providers.js';
import { currentLocale, t, translates } from '../../i18n/index.js';
import type { Secrets } from '../../project/secrets.js';
import { prompts } from '../../ui/prompt.js';
import { out } from '../../ui/output.js';

type Opts = CommandOptions<typeof initSpec>;

/** `<productName> (<row id>, Node <major>)` */
function runtimeChoiceLabel(runtime: GatewayRuntime): string {
  return `${runtime.productName} (${runtime.id}, Node ${runtime.nodeMajor})`;
}

/**
 * The wizard's first question: OpenClaw's newest row (recommended), then the frozen Clawdbot row
 * (kept for existing deployments), then the row a previous run chose when it is neither.
 */
export function runtimeChoices(previous?: string): { name: string; value: string }[] {
  const recommended = findRuntime(DEFAULTS.runtime)!;
  const frozen = findRuntime(LEGACY_RUNTIME_ID)!;
  const choices = [
    { name: t('init.runtime.recommended', { label: runtimeChoiceLabel(recommended) }), value: recommended.id },
    { name: t('init.runtime.frozen', { product: frozen.productName, version: frozen.packageVersion }), value: frozen.id },
  ];
  const kept = previous ? findRuntime(previous) : undefined;
  if (kept && !choices.some((c) => c.value === kept.id)) choices.push({ name: runtimeChoiceLabel(kept), value: kept.id });
  return choices;
}

/**
 * Runs a check inside an inquirer prompt: returns true or the check's message. In English the
 * refusal itself (it names the value); in another language the catalog's words for its code, when
 * the catalog has them.
 */
function validator<T>(check: (value: T) => unknown) {
  return (value: T) => {
    try {
      check(value);
      return true;
    } catch (error) {
      if (!(error instanceof UsageError)) return String(error);
      const key = `init.invalid.${error.code}`;
      return currentLocale() !== 'en' && translates(key) ? t(key) : error.message;
    }
  };
}

/** An int option's value; NaN (commander's parse of a non-number) is refused. */
function intFlag(value: number | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (Number.isNaN(value)) throw new UsageError(`${flag} takes a whole number`, `${flag} <number>`, 'bad-number');
  return value;
}

function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * A wizard answer that may be "nothing": an inquirer input falls back to its default when left
 * empty, so clearing a pre-filled list needs a word. `none` (or `-`) means the empty list.
 */
function orNone(text: string): string {
  return /^\s*(none|-)\s*$/i.test(text) ? '' : text;
}

/** Providers whose API key is already at hand (environment, --secrets-stdin or the previous secrets.env). */
export function providersWithKeys(...sources: Record<string, string | undefined>[]): Set<string> {
  const providers = [...Object.keys(PROVIDER_KEYS), ...Object.keys(COMPATIBLE_PROVIDERS)];
  return new Set(providers.filter((provider) => sources.some((source) => Boolean(source[providerKeyName(provider)!]?.trim()))));
}

export async function collectAnswers(opts: Opts, previous: Answers | undefined, ask: boolean, keyedProviders: ReadonlySet<string> = new Set()): Promise<{ answers: Answers; warnings: string[] }> {
  const p = ask ? await prompts() : undefined;
  const warnings: string[] = [];
  const force = opts.force === true;

  // First: the app name and volume defaults follow the gateway (`<package>-<random>`, `<package>_data`).
  let runtime: string;
  if (opts.runtime !== undefined) runtime = checkRuntime(opts.runtime);
  else if (p) {
    runtime = await p.select({
      message: t('init.prompt.runtime'),
      choices: runtimeChoices(previous?.runtime),
      default: previous?.runtime ?? DEFAULTS.runtime,
    });
  } else runtime = checkRuntime(previous?.runtime ?? DEFAULTS.runtime);
  const row = findRuntime(runtime)!;

  const app = opts.app !== undefined
    ? checkAppName(opts.app)
    : p
      ? await p.input({ message: t('init.prompt.app'), default: previous?.app ?? defaultAppName(defaultAppPrefix(row)), validate: validator(checkAppName) })
      : (previous?.app ?? defaultAppName(defaultAppPrefix(row)));

  // In and near China the list starts with the closest real regions (Fly has no hkg), and says why.
  const timeZone = userTimeZone();
  const nearChina = isNearChina(timeZone);
  let region: string;
  if (opts.region !== undefined) region = checkRegion(opts.region);
  else if (p) {
    const order = regionOrder(timeZone);
    if (nearChina) out.info(t('init.region.chinaNote'));
    region = await p.select({
      message: t('init.prompt.region'),
      choices: order.map((code) => ({ name: `${code}  ${REGIONS[code]}`, value: code })),
      default: previous?.region ?? (nearChina ? order[0]! : DEFAULTS.region),
      pageSize: 10,
    });
  } else region = previous?.region ?? DEFAULTS.region;

  let vmSize: string;
  if (opts.vmSize !== undefined) vmSize = checkVmSize(opts.vmSize);
  else if (p) {
    vmSize = await p.select({
      message: t('init.prompt.vmSize'),
      choices: Object.keys(VM_PRESETS).map((size) => ({ name: size, value: size })),
      default: previous?.vmSize ?? DEFAULTS.vmSize,
    });
  } else vmSize = previous?.vmSize ?? DEFAULTS.vmSize;

  let memoryMb = intFlag(opts.memory, '--memory');
  if (memoryMb === undefined && p) {
    memoryMb = await p.number({
      message: t('init.prompt.memory'),
      default: previous?.memoryMb ?? DEFAULTS.memoryMb,
      required: true,
      validate: validator((v: number | undefined) => checkMemory(vmSize, v ?? Number.NaN, force)),
    }) ?? DEFAULTS.memoryMb;
  }
  memoryMb ??= previous?.memoryMb ?? DEFAULTS.memoryMb;
  const memory = checkMemory(vmSize, memoryMb, force);
  if (memory.warning) warnings.push(memory.warning);

  const volume = opts.volume !== undefined
    ? checkVolumeName(opts.volume)
    : p ? await p.input({ message: t('init.prompt.volume'), default: previous?.volume ?? defaultVolumeName(row), validate: validator(checkVolumeName) })
    : (previous?.volume ?? defaultVolumeName(row));

  let volumeSizeGb = intFlag(opts.volumeSize, '--volume-size');
  if (volumeSizeGb === undefined && p) {
    volumeSizeGb = await p.number({ message: t('init.prompt.volumeSize'), default: previous?.volumeSizeGb ?? DEFAULTS.volumeSizeGb, required: true, validate: validator((v: number | undefined) => checkVolumeSize(v ?? Number.NaN)) });
  }
  volumeSizeGb = checkVolumeSize(volumeSizeGb ?? previous?.volumeSizeGb ?? DEFAULTS.volumeSizeGb);

  let port = intFlag(opts.port, '--port');
  if (port === undefined && p) {
    port = await p.number({ message: t('init.prompt.port'), default: previous?.port ?? DEFAULTS.port, required: true, validate: validator((v: number | undefined) => checkPort(v ?? Number.NaN)) });
  }
  port = checkPort(port ?? previous?.port ?? DEFAULTS.port);

  let primaryDefault = previous?.model.primary ?? defaultPrimaryModel(keyedProviders);
  // Only a DeepSeek / Qwen / Kimi / GLM key at hand (and a runtime that knows them): that provider's model.
  const keyedCompatible = Object.values(COMPATIBLE_PROVIDERS).find((provider) => keyedProviders.has(provider.id));
  if (!previous && row.compatibleProviders && keyedCompatible && !DEFAULT_MODEL_CHAIN.some((m) => keyedProviders.has(providerOf(m)))) {
    primaryDefault = suggestedModel(keyedCompatible);
  }
  // Runtimes that know OpenAI-compatible providers (DeepSeek, Qwen, Kimi, GLM) ask for the provider first.
  if (opts.model === undefined && p && row.compatibleProviders) {
    const provider = await p.select({
      message: t('init.prompt.provider'),
      choices: providerChoices(nearChina),
      default: providerOf(primaryDefault),
      pageSize: 10,
    });
    if (provider !== providerOf(primaryDefault)) primaryDefault = firstModelOf(provider);
  }
  const checkPrimary = (v: string) => checkModelForRuntime(checkModel(v, '--model'), runtime, '--model');
  const primary = opts.model !== undefined
    ? checkPrimary(opts.model)
    : p ? await p.input({ message: t('init.prompt.primary'), default: primaryDefault, validate: validator(checkPrimary) })
    : primaryDefault;

  // A previous answer is the user's choice; a fresh default only names providers that have a key.
  const fallbacksDefault = previous && previous.model.primary === primary ? previous.model.fallbacks : defaultFallbackModels(primary, keyedProviders);
  let fallbacks: string[];
  if (opts.fallbacks !== undefined) fallbacks = splitList(opts.fallbacks);
  else if (p) {
    const text = await p.input({
      message: t('init.prompt.fallbacks'),
      default: fallbacksDefault.join(', ') || 'none',
      validate: validator((v: string) => splitList(orNone(v)).forEach((m) => checkModelForRuntime(checkModel(m, '--fallbacks'), runtime, '--fallbacks'))),
    });
    fallbacks = splitList(orNone(text));
  } else fallbacks = [...fallbacksDefault];
  fallbacks.forEach((m) => checkModelForRuntime(checkModel(m, '--fallbacks'), runtime, '--fallbacks'));

  let maxConcurrentAnswer = intFlag(opts.maxConcurrent, '--max-concurrent');
  if (maxConcurrentAnswer === undefined && p) {
    maxConcurrentAnswer = await p.number({
      message: t('init.prompt.maxConcurrent'),
      default: previous?.maxConcurrent ?? DEFAULTS.maxConcurrent,
      required: true,
      validate: validator((v: number | undefined) => checkMaxConcurrent(v ?? Number.NaN)),
    });
  }
  const maxConcurrent = checkMaxConcurrent(maxConcurrentAnswer ?? previous?.maxConcurrent ?? DEFAULTS.maxConcurrent);

  // Channels
  const guildFlags = opts.discordGuild ?? [];
  const guildsFromFlags = guildFlags.map(parseGuild);
  let discordOn = opts.discord === false ? false : opts.discord === true || guildsFromFlags.length > 0 ? true : undefined;
  let telegramOn = opts.telegram === false ? false : opts.telegram === true ? true : undefined;
  if (p && discordOn === undefined && telegramOn === undefined) {
    const picked = await p.checkbox({
      message: t('init.prompt.channels'),
      choices: [
        { name: 'Discord', value: 'discord', checked: previous ? Boolean(previous.discord) : false },
        { name: 'Telegram', value: 'telegram', checked: Boolean(previous?.telegram) },
      ],
    });
    discordOn = picked.includes('discord');
    telegramOn = picked.includes('telegram');
  }
  discordOn ??= Boolean(previous?.discord);
  telegramOn ??= Boolean(previous?.telegram);

  let discord: Answers['discord'];
  if (discordOn) {
    let guilds = guildsFromFlags.length > 0 ? guildsFromFlags : (previous?.discord?.guilds ?? []);
    if (p && guildsFromFlags.length === 0) {
      const text = await p.input({
        message: t('init.prompt.guilds'),
        default: guilds.map((g) => `${g.id}:${g.channels.join(',')}`).join(' '),
        validate: validator((v: string) => orNone(v).split(/\s+/).filter(Boolean).forEach(parseGuild)),
      });
      guilds = orNone(text).split(/\s+/).filter(Boolean).map(parseGuild);
    }
    let requireMention = opts.requireMention;
    if (requireMention === undefined && p) {
      requireMention = await p.confirm({ message: t('init.prompt.requireMention'), default: previous?.discord?.requireMention ?? DEFAULTS.requireMention });
    }
    discord = { guilds, requireMention: requireMention ?? previous?.discord?.requireMention ?? DEFAULTS.requireMention };
  }

  const signalAccountFlag = opts.signalAccount;
  const signalAccount = signalAccountFlag !== undefined ? checkSignalAccount(signalAccountFlag) : previous?.signalAccount;
  const signal = opts.signal === true || signalAccountFlag !== undefined || (opts.signal === undefined && previous?.signal === true) ? true : undefined;
  // Java + signal-cli run next to the gateway: the rule checkAnswers states, enforced here too (--force does not lift it).
  if (signal && memoryMb < RECOMMENDED_MEMORY_MB) {
    throw new UsageError(`Signal needs Java and signal-cli: at least ${RECOMMENDED_MEMORY_MB} MB, got ${memoryMb}`, `--memory ${RECOMMENDED_MEMORY_MB}`, 'memory-too-small');
  }

  let isPrivate = opts.private;
  if (isPrivate === undefined && p) {
    isPrivate = await p.confirm({
      message: t('init.prompt.private'),
      default: previous?.network === 'private',
    });
  }
  isPrivate ??= previous?.network === 'private';

  let githubActions = opts.githubActions;
  if (githubActions === undefined && p) {
    githubActions = await p.confirm({ message: t('init.prompt.githubActions'), default: previous?.ci === 'github-actions' });
  }
  githubActions ??= previous?.ci === 'github-actions';

  // A mirror only matters where registry.npmjs.org is slow: the wizard asks in and near China; the flag works anywhere.
  let npmRegistry = opts.npmRegistry !== undefined ? (opts.npmRegistry.trim() === '' ? '' : checkNpmRegistry(opts.npmRegistry)) : undefined;
  if (npmRegistry === undefined && p && nearChina) {
    const text = await p.input({
      message: t('init.prompt.npmRegistry'),
      default: previous?.npmRegistry ?? '',
      validate: validator((v: string) => (v.trim() ? checkNpmRegistry(v) : v)),
    });
    npmRegistry = text.trim() ? checkNpmRegistry(text) : '';
  }
  npmRegistry ??= previous?.npmRegistry ?? '';

  const answers: Answers = {
    app, region, vmSize, memoryMb, volume, volumeSizeGb, port,
    model: { primary, fallbacks }, maxConcurrent,
    ...(discord ? { discord } : {}),
    ...(telegramOn ? { telegram: {} } : {}),
    ...(signal ? { signal } : {}),
    ...(signal && signalAccount ? { signalAccount } : {}),
    runtime,
    ...(isPrivate ? { network: 'private' as const } : {}),
    ...(githubActions ? { ci: 'github-actions' as const } : {}),
    ...(npmRegistry ? { npmRegistry } : {}),
    // set by `clawdfly backup schedule`, kept by re-runs
    ...(previous?.offsiteEvery ? { offsiteEvery: previous.offsiteEvery } : {}),
  };
  return { answers, warnings };
}

const PROVIDER_LABELS: Record<string, string> = { anthropic: 'Anthropic', openai: 'OpenAI', google: 'Google Gemini' };

const providerLabel = (provider: string): string => PROVIDER_LABELS[provider] ?? findCompatibleProvider(provider)?.label ?? provider;

/** The provider's suggested model: the best default one for the built-in providers, the table's first for the others. */
function firstModelOf(provider: string): string {
  const compatible = findCompatibleProvider(provider);
  return compatible ? suggestedModel(compatible) : (DEFAULT_MODEL_CHAIN.find((m) => providerOf(m) === provider) ?? DEFAULT_MODEL_CHAIN[0]);
}

/** Every provider the wizard offers, with the secret its key goes in; in and near China the Chinese ones first. */
function providerChoices(nearChina: boolean): { name: string; value: string }[] {
  const builtIn = Object.keys(PROVIDER_LABELS);
  const chinese = Object.keys(COMPATIBLE_PROVIDERS);
  return (nearChina ? [...chinese, ...builtIn] : [...builtIn, ...chinese]).map((provider) => ({
    name: `${providerLabel(provider)}  (${firstModelOf(provider)}; ${t('init.provider.keyHint', { secret: providerKeyName(provider)! })})`,
    value: provider,
  }));
}

/**
 * Secrets come from the environment, from --secrets-stdin, from the previous secrets.env, or a
 * masked prompt. Never from a flag value (it would land in shell history).
 */
export async function collectSecrets(answers: Answers, base: Secrets, fromStdin: Secrets, ask: boolean): Promise<{ secrets: Secrets; warnings: string[] }> {
  const warnings: string[] = [];
  const secrets: Secrets = { ...base };
  const known = [...allProviderKeyNames(), ...Object.values(CHANNEL_TOKENS)];
  for (const name of known) {
    const value = process.env[name];
    if (value) secrets[name] = value;
  }
  Object.assign(secrets, fromStdin);
  const p = ask ? await prompts() : undefined;

  const needed: { name: string; label: string; flag: string }[] = [];
  if (answers.discord) needed.push({ name: CHANNEL_TOKENS.discord, label: 'Discord', flag: '--no-discord' });
  if (answers.telegram) needed.push({ name: CHANNEL_TOKENS.telegram, label: 'Telegram', flag: '--no-telegram' });
  for (const item of needed) {
    if (secrets[item.name]) continue;
    const label = t(item.label === 'Discord' ? 'init.label.discordToken' : 'init.label.telegramToken');
    if (p) secrets[item.name] = await p.password({ message: t('init.secret.channelToken', { label, secret: item.name }), mask: '•', validate: (v) => (v.trim() ? true : t('init.secret.required')) });
    else {
      throw new UsageError(
        `${item.label} is enabled but ${item.name} is not set`,
        `${item.name}=… in the environment, or a ${item.name}=… line on stdin with --secrets-stdin (or ${item.flag})`,
        'missing-secret',
      );
    }
  }

  for (const provider of providersOf(answers)) {
    const name = providerKeyName(provider);
    if (!name || secrets[name]) continue;
    if (p) {
      const value = await p.password({ message: t('init.secret.providerKey', { provider: providerLabel(provider), secret: name }), mask: '•' });
      if (value.trim()) secrets[name] = value.trim();
    }
    if (!secrets[name]) warnings.push(t('init.warn.noProviderKey', { secret: name, provider }));
  }
  return { secrets, warnings };
}

export function costLine(answers: Answers): string {
  const cost = estimateMonthlyCost(VM_PRESETS[answers.vmSize]!, answers.memoryMb, answers.volumeSizeGb);
  return t('init.cost', { cost: cost.toFixed(2), vmSize: answers.vmSize, memoryMb: answers.memoryMb, volumeGb: answers.volumeSizeGb });
}
