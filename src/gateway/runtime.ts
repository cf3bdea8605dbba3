/**
 * Everything clawdfly knows about the gateway's names lives here: package, entry point,
 * environment variables, paths, lock files and log lines. A new gateway version (or the
 * Moltbot / OpenClaw renames) is one more row in RUNTIMES, not a search through the code.
 * Facts come from running the real package (see shared/reference/gateway.md).
 */

export interface GatewayRuntime {
  /** Key in RUNTIMES and the value of `--runtime`. */
  id: string;
  /** npm package installed into the image. */
  packageName: string;
  packageVersion: string;
  /** Version printed by the gateway (stamped into meta.lastTouchedVersion). */
  displayVersion: string;
  /** The in-process entry (not the npm bin, which respawns a second process). */
  entry: string;
  /** The CLI name the gateway uses in its own hints (`clawdbot devices …`). */
  cliName: string;
  /** Config file name inside the state dir. */
  configFileName: string;
  env: {
    stateDir: string;
    configPath: string;
    gatewayPort: string;
    gatewayToken: string;
    disableBonjour: string;
  };
  /** Lock file directory prefix under os.tmpdir(): `<prefix><uid>/gateway.<hash>.lock`. */
  lockTmpDirPrefix: string;
  /** Older builds put the lock straight into the state dir; both are checked. */
  lockInStateDir: boolean;
  /** Extra top-level dependencies and overrides its npm install needs (gateway.md §0.2). */
  extraDependencies: Record<string, string>;
  overrides: Record<string, string>;
  /** Minimum Node.js version the gateway itself runs on. */
  minNode: string;
  /** Known fatal bugs of this release, matched in logs by doctor. */
  knownCrashes: { pattern: RegExp; summary: string; fix: string }[];
}

export const RUNTIMES: Record<string, GatewayRuntime> = {
  'clawdbot@2026.1.24-3': {
    id: 'clawdbot@2026.1.24-3',
    packageName: 'clawdbot',
    packageVersion: '2026.1.24-3',
    displayVersion: '2026.1.24-3',
    entry: 'dist/index.js',
    cliName: 'clawdbot',
    configFileName: 'clawdbot.json',
    env: {
      stateDir: 'CLAWDBOT_STATE_DIR',
      configPath: 'CLAWDBOT_CONFIG_PATH',
      gatewayPort: 'CLAWDBOT_GATEWAY_PORT',
      gatewayToken: 'CLAWDBOT_GATEWAY_TOKEN',
      disableBonjour: 'CLAWDBOT_DISABLE_BONJOUR',
    },
    lockTmpDirPrefix: 'clawdbot-',
    lockInStateDir: true,
    extraDependencies: { 'strip-ansi': '7.2.0' },
    overrides: { libsignal: '6.0.0' },
    minNode: '22.12.0',
    knownCrashes: [
      {
        pattern: /Unhandled promise rejection: TypeError: fetch failed/,
        summary: 'clawdbot 2026.1.24-3 exits on any failed network call (fixed upstream after this release)',
        fix: 'keep [[restart]] policy = "always" in fly.toml so Fly restarts it; upgrade the runtime when a fixed release is available',
      },
    ],
  },
};

export const DEFAULT_RUNTIME_ID = 'clawdbot@2026.1.24-3';

/** npm `clawdbot@2026.1.24` is published without dist/link-understanding and cannot start. */
export const BROKEN_RUNTIMES: Record<string, string> = {
  'clawdbot@2026.1.24': 'its npm tarball lacks dist/link-understanding/ and fails with ERR_MODULE_NOT_FOUND at start',
};

export function runtimeIds(): string[] {
  return Object.keys(RUNTIMES);
}

export function findRuntime(id: string): GatewayRuntime | undefined {
  return RUNTIMES[id];
}

/** Where the volume is mounted and the gateway keeps its state. */
export const STATE_DIR = '/data';
/** TMPDIR on the volume: the jiti transpile cache survives restarts (warm boots) and the lock moves with it. */
export const TMP_SUBDIR = 'tmp';
export const WORKSPACE_SUBDIR = 'workspace';
/** Where the image keeps the runtime bundle. */
export const APP_DIR = '/app';

export function remoteConfigPath(runtime: GatewayRuntime, stateDir = STATE_DIR): string {
  return `${stateDir}/${runtime.configFileName}`;
}

/** Provider keys and channel tokens the gateway reads from the environment (gateway.md §3.3). */
export const PROVIDER_KEYS = {
  anthropic: 'ANTHROPIC_API_KEY',
  openai: 'OPENAI_API_KEY',
  google: 'GEMINI_API_KEY',
} as const;

export const CHANNEL_TOKENS = {
  discord: 'DISCORD_BOT_TOKEN',
  telegram: 'TELEGRAM_BOT_TOKEN',
} as const;

export type Provider = keyof typeof PROVIDER_KEYS;
export type TokenChannel = keyof typeof CHANNEL_TOKENS;

/** Every secret name clawdfly may stage, gateway token first. */
export function secretNames(runtime: GatewayRuntime): string[] {
  return [runtime.env.gatewayToken, ...Object.values(PROVIDER_KEYS), ...Object.values(CHANNEL_TOKENS)];
}

/** The process command fly.toml runs (the same words the seed uses, from WORKDIR = the package dir). */
export function gatewayCommand(runtime: GatewayRuntime, port: number): string[] {
  return ['node', runtime.entry, 'gateway', '--allow-unconfigured', '--port', String(port), '--bind', 'lan'];
}
