/**
 * Everything clawdfly knows about the gateway's names lives here: package, entry point,
 * environment variables, paths, lock files and log lines. A new gateway version (or the
 * Moltbot / OpenClaw renames) is one more row in RUNTIMES, not a search through the code.
 * Facts come from running the real package (see shared/reference/gateway.md).
 */

import { compareVersions, rangeAdmits } from '../util/version.js';

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
  /** The product's name in prose (README, help, generated package description). */
  productName: string;
  /** The CLI name the gateway uses in its own hints (`clawdbot devices …`). */
  cliName: string;
  /** Config file name inside the state dir (and in the project folder). */
  configFileName: string;
  /** Where the gateway keeps its state when the state-dir variable is unset (on the container's disk). */
  homeStateDir: string;
  /** The gateway's own log line once it accepts connections (matched by the image's prewarm too). */
  listeningLine: RegExp;
  /**
   * A later line that proves the start finished, when the listening line alone does not: openclaw
   * 2026.9.6 logs `http server listening` and can still fail its start afterwards (`[gateway] ready`
   * comes once it did not). Verification after a deploy waits for it.
   */
  readyLine?: RegExp;
  env: {
    stateDir: string;
    configPath: string;
    gatewayPort: string;
    gatewayToken: string;
    disableBonjour: string;
    /**
     * Turns the gateway's own updater off, when it has one (openclaw: `OPENCLAW_NO_AUTO_UPDATE`, read
     * by dist/update-startup-*.mjs): the image is the version, a redeploy is the update.
     */
    noAutoUpdate?: string;
  };
  /**
   * The gateway's own HTTP health endpoints, unauthenticated, when it has them (openclaw 2026.9.x,
   * measured on 2026.9.6: test/fixtures/openclaw-health/): `live` answers 200 from the listening line
   * on; `started` 503 until the start finished (`[gateway] ready`), then 200; `ready` the same, and
   * later 503 with the channels (or other parts) it names in `failing`. Undefined: none (clawdbot,
   * whose fly.toml checks `GET /`).
   */
  health?: { live: string; started: string; ready: string };
  /** Lock file directory prefix under os.tmpdir(): `<prefix><uid>/gateway.<hash>.lock`. */
  lockTmpDirPrefix: string;
  /** Older builds put the lock straight into the state dir; both are checked. */
  lockInStateDir: boolean;
  /**
   * A folder under the state dir that holds the `<prefix><uid>` lock dirs whatever TMPDIR says
   * (openclaw: `<state>/tmp/openclaw-<uid>/`); undefined when the lock dirs follow TMPDIR.
   */
  lockStateSubdir?: string;
  /** The gateway's lock file names (matched by the entrypoint, which removes a stale one). */
  lockFileName: RegExp;
  /**
   * A gateway owner lease kept in SQLite beside the lock files, when the release has one: the
   * database (relative to the state dir), its table, and the lease's row (scope and key). The
   * entrypoint releases it when its owner is provably gone, like a stale lock file (openclaw
   * 2026.9.6: a killed boot's lease otherwise blocks every start for 300 s). Undefined: none.
   */
  ownerLease?: { database: string; table: string; scope: string; key: string };
  /** Extra top-level dependencies and overrides its npm install needs (gateway.md §0.2). */
  extraDependencies: Record<string, string>;
  overrides: Record<string, string>;
  /** Minimum Node.js version the gateway itself runs on. */
  minNode: string;
  /** Node majors at or above minNode that the package's `engines` still refuses (openclaw: 25). */
  refusedNodeMajors: number[];
  /** The Node major of the image (`FROM node:<major>-bookworm-slim`). */
  nodeMajor: number;
  /**
   * The folder under TMPDIR where the gateway keeps its compiled-code cache: jiti's transpile cache
   * (clawdbot) or Node's compile cache (openclaw). The image build prewarms it, the volume keeps it.
   */
  compileCacheSubdir: string;
  /** That cache in prose (fly.toml's comment). */
  compileCacheName: string;
  /**
   * The environment variable that turns that cache on, when the gateway does not by itself:
   * openclaw enables Node's compile cache only in its `openclaw.mjs` launcher, never when
   * `dist/index.js` runs in-process (measured in the image: no cache written), so the entrypoint and
   * the prewarm set `NODE_COMPILE_CACHE=$TMPDIR/node-compile-cache`. Undefined: nothing to set (jiti).
   */
  compileCacheEnv?: string;
  /**
   * How a config file is checked before it is used: clawdfly's hand mirror of the schema (clawdbot
   * has no validator command), or the gateway's own `config validate --json` run on the installed
   * runtime (openclaw), with JSON parsing the only local check when no runtime is installed.
   */
  configValidator: { kind: 'schema' } | { kind: 'gateway'; args: string[] };
  /**
   * The shape of the config clawdfly writes: `agents.list` (clawdbot) or keyed `agents.entries`
   * (openclaw moved to it, with more: src/project/gateway-config.ts).
   */
  configDialect: 'agents-list' | 'agents-entries';
  /**
   * The config schema has OpenAI-compatible `models.providers.<id>` entries, so init can offer the
   * providers of src/gateway/providers.ts (DeepSeek, Qwen, Kimi, GLM). Checked with openclaw's own
   * `config schema` and `config validate`; clawdbot's was not, so it is not offered them.
   */
  compatibleProviders?: boolean;
  /**
   * How the gateway's CLI is told which port the running gateway listens on, for its RPC commands
   * (`devices …`): it dials the default port otherwise, not the `--port` the gateway was started with.
   * - url-flag: `--url=ws://127.0.0.1:<port>`, the token still read from the environment (clawdbot);
   * - port-env: the port env var (env.gatewayPort) in the CLI's environment. openclaw refuses `--url`
   *   without an explicit `--token` ("gateway url override requires explicit credentials"), and a
   *   token on argv is a leak.
   */
  cliGatewayTarget: 'url-flag' | 'port-env';
  /** Known fatal bugs of this release, matched in logs by doctor. */
  knownCrashes: { pattern: RegExp; summary: string; fix: string }[];
  /**
   * Files of an older gateway's state dir that this one refuses to start with until its own command
   * has imported them (a glob relative to the state dir, what they are, the gateway CLI's argv that
   * imports them, and why). The image's entrypoint runs that command once before the gateway starts
   * when the glob matches (the command renames what it imported, so the next boot finds nothing);
   * `clawdfly upgrade` looks for the files first, says so in its plan and waits longer for that start.
   * timeoutSeconds: the entrypoint stops waiting (and starts the gateway anyway); measuredSeconds:
   * what it took where it was measured (FINDINGS-openclaw-migration.md §3, test/image/).
   */
  firstStartMigrations?: { glob: string; what: string; argv: string[]; why: string; timeoutSeconds: number; measuredSeconds: number }[];
  /**
   * Top-level entries of the state dir this gateway writes by itself that another row may not (openclaw:
   * `state/`, its SQLite stores). What a rollback discards is a property of the PAIR of rows, never of
   * one: see stateEntriesToDiscard.
   */
  stateEntries?: string[];
  /**
   * What the image build deletes in the `npm ci` layer, because the gateway never loads it on a
   * Linux machine (checked by booting the real gateway in the pruned image, test/image/):
   * - platformPackageScopes: scopes of prebuilt native builds named `linux-<arch>[-<variant>]`
   *   (GPU variants, other CPUs) of which only the build platform's plain `linux-<arch>` stays;
   * - declarationsAndSourceMaps: `*.d.ts` and `*.js.map` files outside the gateway's own package;
   * - moreFileNames: more file-name patterns (`find -name`) deleted outside the gateway's own package,
   *   each one never opened by the real gateway in a file-access trace of its commands.
   */
  imagePrune: { platformPackageScopes: string[]; declarationsAndSourceMaps: boolean; moreFileNames?: string[] };
  /**
   * What the image's watchdog (templates/runtime/supervisor.mjs) asks on localhost to know the
   * gateway is alive: `accept` 'ok' wants a 2xx (a liveness endpoint), 'any' any HTTP answer (a
   * gateway without one still answers GET /; a bare TCP connect proves nothing, the kernel accepts
   * connections for a frozen process too).
   */
  liveness: { path: string; accept: 'ok' | 'any' };
  /**
   * Set on a published release clawdfly has no row for (`--runtime openclaw@2026.9.4`): the row whose
   * facts it is built on (see unrowedRuntime). Untested by clawdfly: its own `config validate` and its
   * start-up gates (listening and ready lines, /startupz, /readyz) are what stand between it and a user.
   */
  basedOn?: string;
}

/** Everything a row says but its version: what releases of one line share (a release is a few lines). */
export type RuntimeBase = Omit<GatewayRuntime, 'id' | 'packageVersion' | 'displayVersion'>;

/**
 * One row of RUNTIMES: a line's shared facts, its version, and what this release changes. A release
 * that changes nothing is `...release(BASE, '<version>')`; its lockfile comes from
 * `node scripts/release-lockfile.mjs <package>@<version>`.
 */
export function release(base: RuntimeBase, version: string, changes: Partial<RuntimeBase> = {}): Record<string, GatewayRuntime> {
  const id = `${base.packageName}@${version}`;
  return { [id]: { ...base, ...changes, id, packageVersion: version, displayVersion: version } };
}

/*
 * OpenClaw 2026.9.x, measured by running 2026.9.6 on Node 24.22.3 (shared/reference/openclaw.md).
 */
const OPENCLAW_2026_9: RuntimeBase = {
  packageName: 'openclaw',
  entry: 'dist/index.js',
  productName: 'OpenClaw',
  cliName: 'openclaw',
  configFileName: 'openclaw.json',
  homeStateDir: '~/.openclaw',
  listeningLine: /\[gateway\] http server listening \(/,
  // FINDINGS-openclaw-migration.md §2: "http server listening", then "Gateway failed to start: …"
  readyLine: /\[gateway\] ready\b/,
  health: { live: '/healthz', started: '/startupz', ready: '/readyz' },
  // The watchdog's question: 200 {"ok":true,"status":"live"} from the listening line on
  // (checked in the image by test/image/watchdog.test.ts)
  liveness: { path: '/healthz', accept: 'ok' },
  env: {
    stateDir: 'OPENCLAW_STATE_DIR',
    configPath: 'OPENCLAW_CONFIG_PATH',
    gatewayPort: 'OPENCLAW_GATEWAY_PORT',
    gatewayToken: 'OPENCLAW_GATEWAY_TOKEN',
    disableBonjour: 'OPENCLAW_DISABLE_BONJOUR',
    noAutoUpdate: 'OPENCLAW_NO_AUTO_UPDATE',
  },
  // <state>/tmp/openclaw-<uid>/gateway.<8 hex>.lock and gateway.state.lock (+ .sqlite siblings)
  lockTmpDirPrefix: 'openclaw-',
  lockInStateDir: false,
  lockStateSubdir: 'tmp',
  lockFileName: /^gateway\.(?:[0-9a-f]{8}|state)\.lock$/,
  // dist/windows-port-pids-*.mjs acquireGatewayOwnerLease: payload {owner:{pid, host, startedAt}}, TTL 300 s
  ownerLease: { database: 'state/openclaw.sqlite', table: 'state_leases', scope: 'gateway-owner', key: 'global' },
  extraDependencies: {},
  overrides: {},
  // engines: ">=24.16.0 <25 || >=26.1.0"
  minNode: '24.16.0',
  refusedNodeMajors: [25],
  nodeMajor: 24,
  compileCacheSubdir: 'node-compile-cache',
  compileCacheName: 'Node compile cache',
  compileCacheEnv: 'NODE_COMPILE_CACHE',
  configValidator: { kind: 'gateway', args: ['config', 'validate', '--json'] },
  configDialect: 'agents-entries',
  compatibleProviders: true,
  cliGatewayTarget: 'port-env',
  knownCrashes: [],
  // Its SQLite stores (state/openclaw.sqlite, -wal, -shm, openclaw-quarantine.sqlite): seen written again
  // ~10 s after a rollback set them aside (test/e2e/upgrade-journey.test.ts).
  stateEntries: ['state'],
  // Measured (FINDINGS-openclaw-migration.md §2, §3): with clawdbot's credential store present, 2026.9.6
  // logs its listening line, then "Gateway failed to start: … requires legacy credential migration;
  // run openclaw doctor --fix". doctor --fix imports it into state/openclaw.sqlite and renames the file
  // `auth-profiles.json.migrated-<time>-<uuid>`; with OPENCLAW_CONFIG_PATH on a scratch copy it leaves
  // the live openclaw.json alone (it rewrites the config it resolves: model refs, origins, skills).
  firstStartMigrations: [
    {
      glob: 'agents/*/agent/auth-profiles.json',
      what: "Clawdbot's credential store (made by `clawdbot onboard` / `models auth`)",
      argv: ['doctor', '--fix', '--non-interactive', '--yes'],
      why: 'OpenClaw 2026.9.6 refuses to start until `openclaw doctor --fix` has imported it into SQLite',
      // 74 s in the image (test/image/openclaw.test.ts), 57 s and 107 s on loaded hosts: "about 2 min"
      timeoutSeconds: 600,
      measuredSeconds: 120,
    },
  ],
  // Measured on 2026.9.6 (strace of boot, restart, a telegram start, config validate, backup create,
  // memory status/search, doctor; README "Image size"): no file of these kinds under node_modules is
  // ever opened. Its lock holds only linux-<arch> native builds (npm picks them), so no platform scope.
  // Declarations and maps of its dependencies (~76 MB), their TypeScript sources (~14 MB, e.g.
  // openai/src). Markdown stays: playwright-core reads its skills' *.md at run time.
  imagePrune: {
    platformPackageScopes: [],
    declarationsAndSourceMaps: true,
    moreFileNames: ['*.d.ts.map', '*.d.mts.map', '*.d.cts.map', '*.ts', '*.mts', '*.cts'],
  },
};

export const RUNTIMES: Record<string, GatewayRuntime> = {
  'clawdbot@2026.1.24-3': {
    id: 'clawdbot@2026.1.24-3',
    packageName: 'clawdbot',
    packageVersion: '2026.1.24-3',
    displayVersion: '2026.1.24-3',
    entry: 'dist/index.js',
    productName: 'Clawdbot',
    cliName: 'clawdbot',
    configFileName: 'clawdbot.json',
    homeStateDir: '~/.clawdbot',
    listeningLine: /\[gateway\] listening on /,
    env: {
      stateDir: 'CLAWDBOT_STATE_DIR',
      configPath: 'CLAWDBOT_CONFIG_PATH',
      gatewayPort: 'CLAWDBOT_GATEWAY_PORT',
      gatewayToken: 'CLAWDBOT_GATEWAY_TOKEN',
      disableBonjour: 'CLAWDBOT_DISABLE_BONJOUR',
    },
    lockTmpDirPrefix: 'clawdbot-',
    lockInStateDir: true,
    lockFileName: /^gateway\.[0-9a-f]{8}\.lock$/,
    extraDependencies: { 'strip-ansi': '7.2.0' },
    overrides: { libsignal: '6.0.0' },
    minNode: '22.12.0',
    refusedNodeMajors: [],
    nodeMajor: 22,
    compileCacheSubdir: 'jiti',
    compileCacheName: 'jiti transpile cache',
    configValidator: { kind: 'schema' },
    configDialect: 'agents-list',
    cliGatewayTarget: 'url-flag',
    // node-llama-cpp (local embeddings) ships ~700 MB of cuda/vulkan/arm builds; a Fly CPU machine
    // uses linux-x64 alone. Declarations and source maps are another ~250 MB.
    imagePrune: { platformPackageScopes: ['@node-llama-cpp'], declarationsAndSourceMaps: true },
    // no health endpoint: GET / serves the Control UI (fly.toml's check)
    liveness: { path: '/', accept: 'any' },
    knownCrashes: [
      {
        pattern: /Unhandled promise rejection: TypeError: fetch failed/,
        summary: 'clawdbot 2026.1.24-3 exits on any failed network call (fixed upstream after this release)',
        fix: 'keep [[restart]] policy = "always" in fly.toml so Fly restarts it; upgrade the runtime when a fixed release is available',
      },
    ],
  },
  /*
   * OpenClaw, the maintained successor (npm `openclaw`, shared/reference/openclaw.md), measured by
   * running 2026.9.6 on Node 24.22.3: `node dist/index.js gateway …` runs the gateway in-process
   * (the `openclaw.mjs` bin is a launcher that may respawn it), logs
   * `[gateway] http server listening (N plugins: …; 6.0s)` and exits cleanly on SIGTERM.
   */
  ...release(OPENCLAW_2026_9, '2026.9.6'),
  // Written after 2026.9.6 on purpose: the newest row is the highest version, not the last one here.
  ...release(OPENCLAW_2026_9, '2026.9.5'),
};

/**
 * The seed's gateway, frozen at 2026.1.24-3 (kept for existing deployments): the runtime of a project
 * whose .clawdfly/answers.json names none (written before runtime rows existed).
 */
export const LEGACY_RUNTIME_ID = 'clawdbot@2026.1.24-3';

/** npm `clawdbot@2026.1.24` is published without dist/link-understanding and cannot start. */
export const BROKEN_RUNTIMES: Record<string, string> = {
  'clawdbot@2026.1.24': 'its npm tarball lacks dist/link-understanding/ and fails with ERR_MODULE_NOT_FOUND at start',
};

/** Why a Node version cannot run this runtime (its package's `engines`), or undefined when it can. */
export function nodeVersionProblem(runtime: GatewayRuntime, version: string): string | undefined {
  if (compareVersions(version, runtime.minNode) < 0) return `it needs Node ${runtime.minNode} or newer`;
  const major = Number.parseInt(version.replace(/^v/, ''), 10);
  if (runtime.refusedNodeMajors.includes(major)) return `its package refuses Node ${major} (use Node ${runtime.nodeMajor})`;
  return undefined;
}

/**
 * A rollback across an upgrade sets the newer gateway's files aside while it still runs (ssh needs a
 * started machine), and it writes some of its own again before `deploy --image` stops it: the entries
 * it writes that the gateway rolled back to never does are removed once that one is verified. An entry
 * both write is the older gateway's own again (openclaw → openclaw: `state/` is the SQLite store the
 * older one has just started on) and is never removed.
 */
export function stateEntriesToDiscard(from: GatewayRuntime, to: GatewayRuntime): string[] {
  const kept = new Set(to.stateEntries ?? []);
  return (from.stateEntries ?? []).filter((entry) => !kept.has(entry));
}

/** The image's base: Debian slim with the runtime's Node major. */
export function baseImage(runtime: GatewayRuntime): string {
  return `node:${runtime.nodeMajor}-bookworm-slim`;
}

export function runtimeIds(): string[] {
  return Object.keys(RUNTIMES);
}

export function findRuntime(id: string): GatewayRuntime | undefined {
  return RUNTIMES[id] ?? unrowedRuntime(id);
}

/** `<package>@<exact version>` (a pre-release tag allowed; no ranges, no dist-tags), or undefined. */
export function parseRuntimeId(spec: string): { packageName: string; version: string } | undefined {
  const m = /^([a-z0-9][a-z0-9._-]*)@(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/.exec(spec.trim());
  return m ? { packageName: m[1]!, version: m[2]! } : undefined;
}

/** A release line: year and month (`2026.9` of 2026.9.4), the releases one base was measured on. */
function releaseLine(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

/**
 * The row a release without one is built on: the newest row at or below it (a release is a few
 * lines, so the nearest older one is the best guess). Below every row of its package it takes the
 * oldest row only within that row's release line (2026.9.1 … 2026.9.4 on 2026.9.5's base, which was
 * measured on 2026.9.x), and the caller still checks the package's `engines` against it; an older
 * line (2026.8.x) has none: what it serves and keeps was never measured.
 */
export function baseRowFor(packageName: string, version: string): GatewayRuntime | undefined {
  const rows = Object.values(RUNTIMES).filter((r) => r.packageName === packageName).sort((a, b) => compareVersions(a.packageVersion, b.packageVersion));
  const atOrBelow = rows.filter((r) => compareVersions(r.packageVersion, version) <= 0).at(-1);
  if (atOrBelow) return atOrBelow;
  const oldest = rows[0];
  return oldest && releaseLine(oldest.packageVersion) === releaseLine(version) ? oldest : undefined;
}

/** A published release with no row, as the row it is built on with its own version (undefined: no such row). */
export function unrowedRuntime(id: string): GatewayRuntime | undefined {
  const parsed = parseRuntimeId(id);
  // Only the maintained line: clawdbot is frozen at its one row.
  if (!parsed || RUNTIMES[id] || BROKEN_RUNTIMES[id] || parsed.packageName !== MAINTAINED_PACKAGE) return undefined;
  const base = baseRowFor(parsed.packageName, parsed.version);
  if (!base) return undefined;
  const runtimeId = `${parsed.packageName}@${parsed.version}`;
  return { ...base, id: runtimeId, packageVersion: parsed.version, displayVersion: parsed.version, basedOn: base.id };
}

/** The rows of a package, oldest first (what a refusal names). */
export function rowVersions(packageName: string): string[] {
  return Object.values(RUNTIMES).filter((r) => r.packageName === packageName).map((r) => r.packageVersion).sort(compareVersions);
}

/**
 * Why a release's `engines.node` (from the registry) does not fit the row it is built on, or undefined
 * when it does: the range must admit the row's lowest Node (what `up --local` lets run) and the newest
 * of the row's Node major (the image's `node:<major>` tag).
 */
export function enginesProblem(runtime: GatewayRuntime, enginesNode: string | undefined): string | undefined {
  if (enginesNode === undefined || enginesNode.trim() === '') return undefined;
  const newestOfMajor = `${runtime.nodeMajor}.999.0`;
  const admits = [rangeAdmits(enginesNode, runtime.minNode), rangeAdmits(enginesNode, newestOfMajor)];
  if (admits.includes(undefined)) return `its engines.node "${enginesNode}" cannot be read`;
  if (admits.includes(false)) return `its engines.node "${enginesNode}" refuses the Node the image runs (Node ${runtime.nodeMajor}, ${runtime.minNode} and later)`;
  return undefined;
}

/**
 * `--runtime` takes a row id (`openclaw@2026.9.6`), a package name alone (`openclaw`), which means
 * that package's newest row, or a release with no row (`openclaw@2026.9.4`: unrowedRuntime; the
 * caller checks the registry, src/project/runtime-release.ts). Returns undefined for anything else.
 */
export function resolveRuntimeId(spec: string): string | undefined {
  const wanted = spec.trim();
  if (RUNTIMES[wanted]) return wanted;
  return newestRow(wanted)?.id ?? unrowedRuntime(wanted)?.id;
}

/** A package's row with the highest version (not the last one written into RUNTIMES). */
export function newestRow(packageName: string): GatewayRuntime | undefined {
  const rows = Object.values(RUNTIMES).filter((r) => r.packageName === packageName);
  return rows.sort((a, b) => compareVersions(a.packageVersion, b.packageVersion)).at(-1);
}

/**
 * The maintained gateway line: where `clawdfly upgrade` goes without `--to` (its newest row). Going
 * from it back to an older package is not an upgrade: openclaw keeps its state in SQLite, which
 * clawdbot cannot read (`clawdfly rollback` returns to the image and files that ran before).
 */
export const MAINTAINED_PACKAGE = 'openclaw';

/** What `init` writes without `--runtime`: the maintained gateway's newest row. */
export const DEFAULT_RUNTIME_ID = newestRow(MAINTAINED_PACKAGE)!.id;

/** The app-name prefix and volume name init proposes for a runtime (`openclaw-<random>`, `openclaw_data`). */
export function defaultAppPrefix(runtime: GatewayRuntime): string {
  return runtime.packageName;
}
export function defaultVolumeName(runtime: GatewayRuntime): string {
  return `${runtime.packageName}_data`;
}

/** Where the volume is mounted and the gateway keeps its state. */
export const STATE_DIR = '/data';
/** TMPDIR on the volume: the jiti transpile cache survives restarts (warm boots) and the lock moves with it. */
export const TMP_SUBDIR = 'tmp';
export const WORKSPACE_SUBDIR = 'workspace';
/**
 * What `clawdfly backup` leaves out of the state dir, and `restore` leaves in place: TMPDIR (the
 * transpile cache and the lock files, rebuilt on boot) and lock files of older builds at the top.
 */
export const BACKUP_EXCLUDED_NAMES = [TMP_SUBDIR];
/** Default Fly volume name and app-name prefix that init proposes (those of the default runtime). */
export const DEFAULT_VOLUME = defaultVolumeName(RUNTIMES[DEFAULT_RUNTIME_ID]!);
export const DEFAULT_APP_PREFIX = defaultAppPrefix(RUNTIMES[DEFAULT_RUNTIME_ID]!);
/** Where the image keeps the runtime bundle. */
export const APP_DIR = '/app';

/** The gateway package inside the image; fly.toml's command runs from here. */
export function runtimePackageDir(runtime: GatewayRuntime): string {
  return `${APP_DIR}/node_modules/${runtime.packageName}`;
}

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

/**
 * The process command fly.toml runs (the same words the seed uses, from WORKDIR = the package dir).
 * Without a port (the image's CMD) the gateway takes env.gatewayPort, then gateway.port, then 18789.
 */
export function gatewayCommand(runtime: GatewayRuntime, port: number | undefined, bind: 'lan' | 'loopback' = 'lan'): string[] {
  return ['node', runtime.entry, 'gateway', '--allow-unconfigured', ...(port === undefined ? [] : ['--port', String(port)]), '--bind', bind];
}

/**
 * What the gateway writes into clawdbot.json by itself at start (gateway.md §5.1, verified diff of
 * shared/fixtures/gateway-logs/seed-example-config*.json): a remote file that differs from the local
 * one only by these (with these values) is the same config. `meta` is stamped on every write.
 * `<channel>` stands for every key of the config's `channels`.
 */
export const GATEWAY_STAMPED_KEYS = ['meta'] as const;
export const GATEWAY_MATERIALIZED_DEFAULTS: { path: string; value: unknown }[] = [
  { path: 'agents.defaults.subagents.maxConcurrent', value: 8 },
  { path: 'commands.native', value: 'auto' },
  { path: 'commands.nativeSkills', value: 'auto' },
  { path: 'messages.ackReactionScope', value: 'group-mentions' },
  { path: 'plugins.entries.<channel>.enabled', value: true },
];

/** The user the image runs the gateway as (Dockerfile `USER node`): files a login writes must belong to it. */
export const GATEWAY_USER = 'node';
/** Its uid/gid in the image (the base image's `node` user): a host folder used as /data must belong to it. */
export const GATEWAY_UID = 1000;

/**
 * The gateway's own CLI on the machine, e.g. `node /app/node_modules/clawdbot/dist/index.js devices list`.
 * The entry is absolute because `ssh console -C` does not run a shell (no `cd`).
 */
export function gatewayCli(runtime: GatewayRuntime, args: string[]): string[] {
  return ['node', `${runtimePackageDir(runtime)}/${runtime.entry}`, ...args];
}

/**
 * The gateway CLI for an RPC command (`devices …`) aimed at the gateway listening on `port`, e.g.
 * `node …/dist/index.js devices list --url=ws://127.0.0.1:3000` or
 * `env OPENCLAW_GATEWAY_PORT=3000 node …/dist/index.js devices list` (`env` as argv[0], since
 * `ssh console -C` and `podman exec` run no shell). The token always comes from the environment.
 */
export function gatewayRpcCli(runtime: GatewayRuntime, port: number | undefined, args: string[]): string[] {
  if (port === undefined) return gatewayCli(runtime, args);
  if (runtime.cliGatewayTarget === 'port-env') return ['env', `${runtime.env.gatewayPort}=${port}`, ...gatewayCli(runtime, args)];
  return gatewayCli(runtime, [...args, `--url=ws://127.0.0.1:${port}`]);
}

/** Pending device-pairing requests expire after 5 minutes (PENDING_TTL_MS in infra/device-pairing). */
export const PAIRING_REQUEST_TTL_MS = 5 * 60_000;

/** signal-cli keeps its account data here (on the volume) when linked with `clawdfly channels login signal`. */
export const SIGNAL_DATA_SUBDIR = 'signal-cli';
/** The signal-cli binary the Signal image variant installs. */
export const SIGNAL_CLI_PATH = '/usr/local/bin/signal-cli';

/** The gateway's port when neither --port, the port env var nor gateway.port says otherwise (gateway.md §3.2). */
export const DEFAULT_GATEWAY_PORT = 18789;
/** Binds that listen beyond loopback (`custom` ends up on 0.0.0.0 in 2026.1.24-3; `auto` prefers 127.0.0.1). */
export const NON_LOOPBACK_BINDS = ['lan', 'custom'] as const;
/** The workspace when agents.defaults.workspace is unset: $HOME/clawd, outside the volume (gateway.md §3.3). */
export const DEFAULT_WORKSPACE = '$HOME/clawd';

/**
 * The gateway's lock file name, `gateway.<first 8 hex of sha1(config path)>.lock` (gateway.md §4),
 * as a shell glob that matches nothing else (no `*`: a name planted with a newline in it never
 * matches) and as a RegExp. The lock dirs under TMPDIR are `<lockTmpDirPrefix><uid>`.
 */
export const LOCK_FILE_GLOB = `gateway.${'[0-9a-f]'.repeat(8)}.lock`;
export const LOCK_FILE_NAME_RE = /^gateway\.[0-9a-f]{8}\.lock$/;
