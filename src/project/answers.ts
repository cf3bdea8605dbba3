/**
 * The answers `init` collects (everything but secrets), their defaults, and the rules each must
 * pass. Stored in .clawdfly/answers.json so a re-run reproduces the same files and later commands
 * know what was chosen. Every refusal is a UsageError naming the flag that fixes it.
 */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import { checkAppName, FEATURED_REGIONS, REGIONS, VM_PRESETS, VOLUME_NAME_RE, guestMemoryError } from './fly-platform.js';
import { BROKEN_RUNTIMES, CHANNEL_TOKENS, DEFAULT_APP_PREFIX, DEFAULT_RUNTIME_ID, DEFAULT_VOLUME, findRuntime, MAINTAINED_PACKAGE, newestRow, parseRuntimeId, PROVIDER_KEYS, resolveRuntimeId, rowVersions, runtimeIds, type GatewayRuntime } from '../gateway/runtime.js';
import { findCompatibleProvider, providerKeyName } from '../gateway/providers.js';
import { t } from '../i18n/index.js';

export interface DiscordAnswers {
  guilds: { id: string; channels: string[] }[];
  requireMention: boolean;
}

export interface Answers {
  app: string;
  region: string;
  vmSize: string;
  memoryMb: number;
  volume: string;
  volumeSizeGb: number;
  port: number;
  model: { primary: string; fallbacks: string[] };
  maxConcurrent: number;
  discord?: DiscordAnswers;
  telegram?: Record<string, never>;
  /** Signal needs Java + signal-cli in the image and ≥ 2 GB. */
  signal?: boolean;
  /** The Signal number (E.164) written to channels.signal.account. */
  signalAccount?: string;
  runtime: string;
  /** 'private': no public address, only Flycast (reached with `clawdfly open`). Absent: public. */
  network?: 'private';
  /** 'github-actions': init also writes the deploy workflow (and keeps it current on re-runs). */
  ci?: 'github-actions';
  /**
   * An npm registry mirror for local builds (`up --local`: the host's npm ci and the image build's
   * NPM_REGISTRY build-arg). Fly's remote builders are outside China and do not use it.
   */
  npmRegistry?: string;
  /**
   * Off-site copies (`clawdfly backup schedule --every`): the interval fly.toml's [env]
   * CLAWDFLY_OFFSITE_EVERY gives the machine's uploader, e.g. `1h`. Absent: no schedule.
   */
  offsiteEvery?: string;
}

/**
 * The default models, best first. Defaults only ever pick models whose provider has a key
 * (a fallback without its key fails over to an error, and doctor would flag it on a fresh deploy).
 */
export const DEFAULT_MODEL_CHAIN = ['anthropic/claude-opus-4-5', 'anthropic/claude-sonnet-4-5', 'openai/gpt-4o', 'google/gemini-2.5-pro'] as const;

export const providerOf = (model: string): string => model.split('/')[0]!;

/** The default primary: the best model whose provider has a key; with no key at all, the best model. */
export function defaultPrimaryModel(keyedProviders: ReadonlySet<string>): string {
  return DEFAULT_MODEL_CHAIN.find((m) => keyedProviders.has(providerOf(m))) ?? DEFAULT_MODEL_CHAIN[0];
}

/**
 * Default fallbacks for `primary`: the other default models whose provider has a key, plus those of
 * the primary's own provider (its key is needed anyway: the wizard asks for it, `--yes` names it).
 */
export function defaultFallbackModels(primary: string, keyedProviders: ReadonlySet<string>): string[] {
  return DEFAULT_MODEL_CHAIN.filter((m) => m !== primary && (keyedProviders.has(providerOf(m)) || providerOf(m) === providerOf(primary)));
}

export const DEFAULTS = {
  region: 'iad',
  vmSize: 'shared-cpu-2x',
  memoryMb: 2048,
  volume: DEFAULT_VOLUME,
  volumeSizeGb: 1,
  port: 3000,
  /** With no provider key given (the defaults of `init --yes`). */
  model: { primary: DEFAULT_MODEL_CHAIN[0], fallbacks: [DEFAULT_MODEL_CHAIN[1]] },
  maxConcurrent: 4,
  requireMention: true,
  runtime: DEFAULT_RUNTIME_ID,
} as const;

/** Below this the gateway's cold boot (~1 GB peak) is killed; the seed says 512 MB is too small. */
export const MIN_MEMORY_MB = 1024;
/** The seed's recommendation: 1 GB may OOM under load or with verbose logging. */
export const RECOMMENDED_MEMORY_MB = 2048;

export function defaultAppName(prefix: string = DEFAULT_APP_PREFIX): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export { checkAppName };

export function checkRegion(code: string): string {
  const normalized = code.trim().toLowerCase();
  if (!REGIONS[normalized]) {
    throw new UsageError(`unknown region "${code}"`, `--region <code>, one of: ${FEATURED_REGIONS.join(', ')} (all: ${Object.keys(REGIONS).join(' ')})`, 'bad-region');
  }
  return normalized;
}

export function checkVmSize(size: string): string {
  if (!VM_PRESETS[size]) throw new UsageError(`unknown VM size "${size}"`, `--vm-size <size>, one of: ${Object.keys(VM_PRESETS).join(', ')}`, 'bad-vm-size');
  return size;
}

export interface MemoryVerdict {
  memoryMb: number;
  warning?: string;
}

/** Fly's guest rules first (flyctl would refuse them anyway), then the gateway's needs. */
export function checkMemory(vmSize: string, memoryMb: number, force: boolean): MemoryVerdict {
  if (!Number.isInteger(memoryMb) || memoryMb <= 0) throw new UsageError(`--memory must be a whole number of MB, got "${memoryMb}"`, '--memory 2048', 'bad-memory');
  const preset = VM_PRESETS[checkVmSize(vmSize)]!;
  const flyError = guestMemoryError(preset, memoryMb);
  if (flyError) {
    const max = (preset.cpuKind === 'shared' ? 2048 : 8192) * preset.cpus;
    throw new UsageError(`${flyError} (${vmSize})`, memoryMb > max ? `--vm-size with more CPUs, or --memory ${max}` : '--memory 2048', 'bad-memory');
  }
  if (memoryMb < MIN_MEMORY_MB && !force) {
    throw new UsageError(
      `--memory ${memoryMb} is too small: the gateway's cold boot peaks at ~1 GB and is killed below ${MIN_MEMORY_MB} MB`,
      `--memory ${RECOMMENDED_MEMORY_MB} (or add --force to keep ${memoryMb})`,
      'memory-too-small',
    );
  }
  if (memoryMb < MIN_MEMORY_MB) {
    return { memoryMb, warning: t('init.warn.memoryForced', { memoryMb, min: MIN_MEMORY_MB, recommended: RECOMMENDED_MEMORY_MB }) };
  }
  if (memoryMb < RECOMMENDED_MEMORY_MB) {
    return { memoryMb, warning: t('init.warn.memoryLow', { memoryMb, recommended: RECOMMENDED_MEMORY_MB }) };
  }
  return { memoryMb };
}

/** Ports below 1024 need root, and the gateway runs as `node`; it also listens on port+2 and port+3 on loopback. */
export function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1024 || port > 65532) {
    throw new UsageError(`--port ${port} is out of range: use 1024–65532 (the gateway runs as a non-root user and also uses port+2 and port+3)`, '--port 3000', 'bad-port');
  }
  return port;
}

export function checkVolumeName(name: string): string {
  if (!VOLUME_NAME_RE.test(name)) {
    throw new UsageError(`invalid volume name "${name}": use lowercase letters, digits and underscores, at most 30 characters`, `--volume ${name.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 30) || DEFAULT_VOLUME}`, 'bad-volume-name');
  }
  return name;
}

export function checkVolumeSize(sizeGb: number): number {
  if (!Number.isInteger(sizeGb) || sizeGb < 1 || sizeGb > 500) throw new UsageError(`--volume-size ${sizeGb} is out of range: 1–500 GB`, '--volume-size 1', 'bad-volume-size');
  return sizeGb;
}

const MODEL_RE = /^[a-z0-9][a-z0-9-]*\/[A-Za-z0-9][\w.:-]*$/;

export function checkModel(model: string, flag: string): string {
  if (!MODEL_RE.test(model)) throw new UsageError(`invalid model "${model}": use provider/model, e.g. anthropic/claude-opus-4-5`, `${flag} anthropic/claude-opus-4-5`, 'bad-model');
  return model;
}

/**
 * A model whose provider is one of src/gateway/providers.ts needs a runtime whose schema has
 * `models.providers` (openclaw); on another runtime the gateway would not know the provider.
 */
export function checkModelForRuntime(model: string, runtimeId: string, flag: string): string {
  const provider = findCompatibleProvider(providerOf(model));
  const runtime = findRuntime(runtimeId);
  if (provider && runtime && !runtime.compatibleProviders) {
    throw new UsageError(`${provider.label} models need the openclaw runtime: ${runtime.productName} does not know the provider "${provider.id}"`, `--runtime openclaw (or ${flag} anthropic/claude-opus-4-5)`, 'provider-needs-runtime');
  }
  return model;
}

/**
 * `--npm-registry`: an http(s) URL without credentials (those belong in ~/.npmrc: answers.json is
 * committed, and a build-arg is visible in the image history).
 */
export function checkNpmRegistry(value: string): string {
  const text = value.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--npm-registry "${value}" is not a URL`, '--npm-registry https://registry.npmmirror.com', 'bad-npm-registry');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`--npm-registry "${value}" must be an http(s) URL`, '--npm-registry https://registry.npmmirror.com', 'bad-npm-registry');
  }
  if (url.username || url.password) {
    throw new UsageError('--npm-registry must not hold a user name or password (answers.json is committed)', 'put the credentials in ~/.npmrc, and pass the URL alone', 'bad-npm-registry');
  }
  if (/[\s"'`$\\]/.test(text)) throw new UsageError(`--npm-registry "${value}" has characters a URL does not need`, '--npm-registry https://registry.npmmirror.com', 'bad-npm-registry');
  return url.href;
}

export function checkMaxConcurrent(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 64) throw new UsageError(`--max-concurrent ${value} is out of range: 1–64`, '--max-concurrent 4', 'bad-max-concurrent');
  return value;
}

/** Discord ids are snowflakes: 17–20 digits. */
const SNOWFLAKE_RE = /^\d{17,20}$/;
const CHANNEL_NAME_RE = /^[\p{L}\p{N}_-]{1,100}$/u;

/** `--discord-guild 123456789012345678:general,random` */
export function parseGuild(spec: string): { id: string; channels: string[] } {
  const [id = '', channelList = ''] = spec.split(':', 2);
  if (!SNOWFLAKE_RE.test(id.trim())) {
    throw new UsageError(`malformed Discord guild id "${id}": a guild id is 17–20 digits (Discord → Server Settings → Widget, or right-click the server → Copy Server ID)`, '--discord-guild 123456789012345678:general', 'bad-guild');
  }
  const channels = channelList.split(',').map((c) => c.trim().replace(/^#/, '')).filter(Boolean);
  for (const channel of channels) {
    if (!CHANNEL_NAME_RE.test(channel)) throw new UsageError(`malformed Discord channel name "${channel}" in --discord-guild`, '--discord-guild 123456789012345678:general,random', 'bad-guild');
  }
  return { id: id.trim(), channels };
}

/** E.164: a plus, a country code that does not start with 0, at most 15 digits in all. */
const E164_RE = /^\+[1-9][0-9]{6,14}$/;

export function checkSignalAccount(value: string): string {
  const number = value.trim();
  if (!E164_RE.test(number)) {
    throw new UsageError(`Signal account "${value}" is not an E.164 number (a plus, the country code, then the number; no spaces)`, '--signal-account +15551234567', 'bad-signal-account');
  }
  return number;
}

/**
 * A runtime row id, a package name alone (its newest row), or a release with no row (the registry is
 * checked before anything is written: src/project/runtime-release.ts); returns the runtime's id.
 */
export function checkRuntime(spec: string): string {
  if (BROKEN_RUNTIMES[spec]) throw new UsageError(`${spec} cannot be used: ${BROKEN_RUNTIMES[spec]}`, `--runtime ${DEFAULT_RUNTIME_ID}`, 'broken-runtime');
  const id = resolveRuntimeId(spec);
  if (!id || !findRuntime(id)) throw unknownRuntimeRefusal(spec, '--runtime', runtimeIds().join(', '));
  return id;
}

/**
 * Why `--runtime`/`--to` names no runtime, as the one-line cause and fix of a refusal: not an exact
 * version, or a release of the maintained package older than every row's line.
 */
export function unknownRuntimeRefusal(spec: string, flag: '--runtime' | '--to', known: string): UsageError {
  const wanted = spec.trim();
  const [name, version] = wanted.split('@');
  const newest = newestRow(MAINTAINED_PACKAGE)!.id;
  if (name === MAINTAINED_PACKAGE && version !== undefined) {
    const parsed = parseRuntimeId(wanted);
    if (!parsed) return new UsageError(`"${wanted}" is not an exact ${MAINTAINED_PACKAGE} version (no ranges or tags: the image pins one release)`, `${flag} ${newest}, or ${flag} ${MAINTAINED_PACKAGE}@<x.y.z>`, 'bad-runtime');
    return new UsageError(`${wanted} is older than every release clawdfly has a row for (${rowVersions(MAINTAINED_PACKAGE).join(', ')}), and its line was never measured`, `${flag} ${MAINTAINED_PACKAGE}@${rowVersions(MAINTAINED_PACKAGE)[0]} or later`, 'runtime-too-old');
  }
  return new UsageError(`unsupported gateway runtime "${wanted}": clawdfly knows ${known}`, `${flag} <one of those>, or ${flag} ${MAINTAINED_PACKAGE}@<a published version>`, 'bad-runtime');
}

/** Re-checks a whole answer set (e.g. one read back from .clawdfly/answers.json). */
export function checkAnswers(answers: Answers, force = false): { answers: Answers; warnings: string[] } {
  const warnings: string[] = [];
  checkAppName(answers.app);
  checkRegion(answers.region);
  const memory = checkMemory(answers.vmSize, answers.memoryMb, force);
  if (memory.warning) warnings.push(memory.warning);
  if (answers.signal && answers.memoryMb < RECOMMENDED_MEMORY_MB) {
    throw new UsageError(`Signal needs Java and signal-cli: at least ${RECOMMENDED_MEMORY_MB} MB, got ${answers.memoryMb}`, `--memory ${RECOMMENDED_MEMORY_MB}`, 'memory-too-small');
  }
  if (answers.signalAccount !== undefined) checkSignalAccount(answers.signalAccount);
  checkVolumeName(answers.volume);
  checkVolumeSize(answers.volumeSizeGb);
  checkPort(answers.port);
  checkModel(answers.model.primary, '--model');
  answers.model.fallbacks.forEach((m) => checkModel(m, '--fallbacks'));
  checkMaxConcurrent(answers.maxConcurrent);
  answers.discord?.guilds.forEach((g) => parseGuild(`${g.id}:${g.channels.join(',')}`));
  checkRuntime(answers.runtime);
  [answers.model.primary, ...answers.model.fallbacks].forEach((m) => checkModelForRuntime(m, answers.runtime, '--model'));
  if (answers.npmRegistry !== undefined) checkNpmRegistry(answers.npmRegistry);
  return { answers, warnings };
}

/** The model providers the chosen models need keys for, in order. */
export function providersOf(answers: Pick<Answers, 'model'>): string[] {
  const providers = [answers.model.primary, ...answers.model.fallbacks].map(providerOf);
  return [...new Set(providers)];
}

/**
 * The secrets a project's gateway uses: its token, the keys of the providers its models name, the
 * tokens of its channels (without answers: every known one). The names a CI workflow maps from
 * repository secrets, and the ones `deploy --secrets-from-env` reads.
 */
export function projectSecretNames(answers: Answers | undefined, runtime: GatewayRuntime): string[] {
  const providers = answers ? providersOf(answers) : Object.keys(PROVIDER_KEYS);
  const channels = (Object.keys(CHANNEL_TOKENS) as (keyof typeof CHANNEL_TOKENS)[]).filter((c) => !answers || answers[c]);
  return [
    runtime.env.gatewayToken,
    ...providers.flatMap((p) => providerKeyName(p) ?? []),
    ...channels.map((c) => CHANNEL_TOKENS[c]),
  ];
}
