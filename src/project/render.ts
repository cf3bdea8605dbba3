/**
 * Turns answers into the project's files. File text comes from templates/; values come from one
 * place each (port, state dir, memory), so fly.toml, the Dockerfile and the config cannot disagree.
 * After rendering, fly.toml is parsed back and its invariants checked: a template bug fails the
 * test suite, never a deploy.
 */
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { projectSecretNames, type Answers } from './answers.js';
import { buildGatewayConfig, formatConfig } from './gateway-config.js';
import { PROJECT_FILES } from './paths.js';
import { renderTemplate, type TemplateValues } from '../util/template.js';
import { joinShellWords } from '../util/shell-words.js';
import { clawdflyVersion } from '../util/version.js';
import { AGENT_BUNDLE, assetPath } from '../util/assets.js';
import { CI_INSTALL_DIR } from './ci-install.js';

/** Where the image build leaves the prewarmed compile cache (templates/runtime/prewarm.mjs, Dockerfile.tmpl). */
const PREWARMED_CACHE_DIR = '/app/.jiti-cache';
import { backupExcludes, EXCLUDED_LABELS } from '../gateway/backup-excludes.js';
import { WATCHDOG_DEFAULTS, WATCHDOG_HOLD_FILE } from '../gateway/watchdog.js';
import { baseImage, DEFAULT_GATEWAY_PORT, findRuntime, gatewayCommand, runtimePackageDir, SIGNAL_CLI_PATH, SIGNAL_DATA_SUBDIR, STATE_DIR, TMP_SUBDIR, type GatewayRuntime } from '../gateway/runtime.js';

export function readTemplate(name: string): string {
  return readFileSync(assetPath('templates', name), 'utf8');
}

export interface ProjectFile {
  path: string;
  content: string;
  mode?: number;
  /** Line-set files (.gitignore): existing content is kept and missing lines appended. */
  merge?: 'lines';
}

/** 75 % of the VM's memory for the V8 heap (1536 for 2048). */
export function heapSizeMb(memoryMb: number): number {
  return Math.floor((memoryMb * 0.75) / 64) * 64;
}

/** Grace period for the HTTP check: a cold boot takes ~45 s, more on a shared CPU under load. */
export const CHECK_GRACE_SECONDS = 120;


export function runtimePackageJson(runtime: GatewayRuntime): string {
  // Must stay byte-compatible with the committed lockfile's root entry.
  const pkg = {
    name: `${runtime.packageName}-runtime`,
    version: '1.0.0',
    private: true,
    description: `The ${runtime.productName} gateway runtime bundled into the image by clawdfly`,
    dependencies: { [runtime.packageName]: runtime.packageVersion, ...runtime.extraDependencies },
    ...(Object.keys(runtime.overrides).length > 0 ? { overrides: runtime.overrides } : {}),
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

/**
 * The files `npm ci` needs to install a runtime: what init writes into runtime/ and the tests install.
 * A row's lockfile is committed; a release with no row brings its own (src/project/runtime-release.ts).
 */
export function runtimeBundleFiles(runtimeId: string, lock?: string): { name: 'package.json' | 'package-lock.json'; content: string }[] {
  const runtime = findRuntime(runtimeId);
  if (!runtime) throw new Error(`unknown runtime ${runtimeId}`);
  if (lock === undefined && runtime.basedOn) throw new Error(`${runtimeId} has no row: its lockfile comes from prepareRuntime`);
  return [
    { name: 'package.json', content: runtimePackageJson(runtime) },
    { name: 'package-lock.json', content: lock ?? readTemplate(`runtime/${runtime.id}.package-lock.json`) },
  ];
}

export function templateValues(answers: Answers): TemplateValues {
  const runtime = findRuntime(answers.runtime)!;
  const command = gatewayCommand(runtime, answers.port);
  return {
    clawdflyVersion: clawdflyVersion(),
    app: answers.app,
    region: answers.region,
    port: answers.port,
    vmSize: answers.vmSize,
    memoryMb: answers.memoryMb,
    heapMb: heapSizeMb(answers.memoryMb),
    volume: answers.volume,
    volumeSizeGb: answers.volumeSizeGb,
    stateDir: STATE_DIR,
    tmpDir: `${STATE_DIR}/${TMP_SUBDIR}`,
    graceSeconds: CHECK_GRACE_SECONDS,
    processCommand: joinShellWords(command),
    processCommandJson: JSON.stringify(command),
    // The image's CMD has no port: a port is run-time configuration, and in the image it would cost a rebuild.
    imageCommandJson: JSON.stringify(gatewayCommand(runtime, undefined)),
    gatewayPortEnv: runtime.env.gatewayPort,
    stateDirEnv: runtime.env.stateDir,
    disableBonjourEnv: runtime.env.disableBonjour,
    healthEndpoints: runtime.health !== undefined,
    noHealthEndpoints: runtime.health === undefined,
    startedPath: runtime.health?.started ?? '/',
    readyPath: runtime.health?.ready ?? '',
    noAutoUpdate: runtime.env.noAutoUpdate !== undefined,
    noAutoUpdateEnv: runtime.env.noAutoUpdate ?? '',
    configFileName: runtime.configFileName,
    lockTmpDirPrefix: runtime.lockTmpDirPrefix,
    lockStateSubdir: runtime.lockStateSubdir ?? '',
    ownerLeaseDatabase: runtime.ownerLease?.database ?? '',
    ownerLeaseTable: runtime.ownerLease?.table ?? '',
    ownerLeaseScope: runtime.ownerLease?.scope ?? '',
    ownerLeaseKey: runtime.ownerLease?.key ?? '',
    firstStartMigrations: Boolean(runtime.firstStartMigrations?.length),
    firstStartMigrationsJson: JSON.stringify(runtime.firstStartMigrations ?? [], null, 2),
    configPathEnv: runtime.env.configPath,
    cliName: runtime.cliName,
    productName: runtime.productName,
    nodeMajor: runtime.nodeMajor,
    baseImage: baseImage(runtime),
    compileCacheSubdir: runtime.compileCacheSubdir,
    compileCacheName: runtime.compileCacheName,
    compileCacheEnv: runtime.compileCacheEnv ?? '',
    // openclaw (Node's compile cache, turned on by the entrypoint) reads the prewarmed cache in the
    // image on every boot; clawdbot's jiti cache is copied onto the volume at first boot.
    compileCacheOnVolume: runtime.compileCacheEnv === undefined,
    imageCompileCacheDir: PREWARMED_CACHE_DIR,
    runtimeId: runtime.id,
    entry: runtime.entry,
    packageDir: runtimePackageDir(runtime),
    // prewarm.mjs starts the gateway on loopback at its default port while the image is built
    prewarmArgsJson: JSON.stringify(gatewayCommand(runtime, DEFAULT_GATEWAY_PORT, 'loopback').slice(1)),
    listeningPattern: runtime.listeningLine.source,
    lockFilePattern: runtime.lockFileName.source,
    runtimePackage: runtime.packageName,
    runtimeVersion: runtime.packageVersion,
    ...imagePruneValues(runtime),
    signal: answers.signal === true,
    public: answers.network !== 'private',
    private: answers.network === 'private',
    signalConfigDir: `${STATE_DIR}/${SIGNAL_DATA_SUBDIR}`,
    signalCliPath: SIGNAL_CLI_PATH,
    ...watchdogValues(runtime),
    offsite: Boolean(answers.offsiteEvery),
    offsiteEvery: answers.offsiteEvery ?? '',
  };
}

/** The entrypoint's supervisor and fly.toml's watchdog settings (src/gateway/watchdog.ts). */
function watchdogValues(runtime: GatewayRuntime): TemplateValues {
  return {
    livenessPath: runtime.liveness.path,
    livenessAccept: runtime.liveness.accept,
    livenessWhat: `GET ${runtime.liveness.path}${runtime.liveness.accept === 'ok' ? '' : ' (any answer)'}`,
    defaultGatewayPort: DEFAULT_GATEWAY_PORT,
    watchdogHoldFile: WATCHDOG_HOLD_FILE,
    watchdogInterval: `${WATCHDOG_DEFAULTS.intervalSeconds}s`,
    watchdogIntervalText: `${WATCHDOG_DEFAULTS.intervalSeconds} s`,
    watchdogFailures: WATCHDOG_DEFAULTS.failures,
  };
}

/** The Dockerfile's prune step for the runtime row (templates/Dockerfile.tmpl, `slimImage` block). */
function imagePruneValues(runtime: GatewayRuntime): TemplateValues {
  const { platformPackageScopes, declarationsAndSourceMaps, moreFileNames = [] } = runtime.imagePrune;
  const prunePlatformBuilds = platformPackageScopes.length > 0;
  const pruneMoreFiles = moreFileNames.length > 0;
  return {
    slimImage: prunePlatformBuilds || declarationsAndSourceMaps || pruneMoreFiles,
    fullImage: !prunePlatformBuilds && !declarationsAndSourceMaps && !pruneMoreFiles,
    prunePlatformBuilds,
    platformPackageScopes: platformPackageScopes.join(', '),
    platformPackageGlobs: platformPackageScopes.map((scope) => `node_modules/${scope}/*`).join(' '),
    pruneDeclarations: declarationsAndSourceMaps,
    pruneMoreFiles,
    moreFileNames: moreFileNames.join(' '),
    // the names are fixed patterns of the runtime row (no quote in them), quoted against the shell's globbing
    moreFileNameTests: moreFileNames.map((name) => `-name '${name}'`).join(' -o '),
    runtimePackageModulesDir: `node_modules/${runtime.packageName}`,
  };
}

/**
 * Where the workflow goes: GitHub reads workflows only at the repository's root, and the project
 * may be a folder inside the repository.
 */
export interface RepoLayout {
  /** The workflow's path relative to the project folder (e.g. `../.github/workflows/x.yml`). */
  workflowPath: string;
  /** The project folder relative to the repository root ('.' when they are the same). */
  workingDirectory: string;
  /** The branch whose pushes deploy. */
  branch: string;
}

export const DEFAULT_REPO_LAYOUT: RepoLayout = { workflowPath: '.github/workflows/deploy.yml', workingDirectory: '.', branch: 'main' };

const yamlQuote = (text: string) => (/^[\w./-]+$/.test(text) ? text : JSON.stringify(text));

export function renderWorkflow(answers: Answers, layout: RepoLayout): string {
  const runtime = findRuntime(answers.runtime)!;
  const names = projectSecretNames(answers, runtime);
  return renderTemplate(readTemplate('github-deploy.yml.tmpl'), {
    app: answers.app,
    productName: runtime.productName,
    clawdflyVersion: clawdflyVersion(),
    branch: yamlQuote(layout.branch),
    workflowName: `Deploy ${answers.app} to Fly.io`,
    workingDirectory: yamlQuote(layout.workingDirectory),
    ciInstallDir: CI_INSTALL_DIR,
    dirFlag: layout.workingDirectory === '.' ? '' : ` --dir ${layout.workingDirectory}`,
    secretComment: [
      `#   ${names.join(', ')}`,
      '#                  optional. Set one to change it on Fly; one left unset keeps the value already',
      '#                  on Fly (the first `clawdfly deploy` from your machine put it there).',
    ].join('\n'),
    // Names only: each maps a repository secret of the same name (an unset one expands to "").
    secretEnv: names.map((name) => `          ${name}: \${{ secrets.${name} }}`).join('\n'),
  }, 'github-deploy.yml.tmpl');
}

export function renderProject(answers: Answers, layout: RepoLayout = DEFAULT_REPO_LAYOUT, runtimeLock?: string): ProjectFile[] {
  const runtime = findRuntime(answers.runtime)!;
  const values = templateValues(answers);
  const flyToml = renderTemplate(readTemplate('fly.toml.tmpl'), values, 'fly.toml.tmpl');
  checkFlyTomlInvariants(flyToml, answers);
  return [
    { path: PROJECT_FILES.flyToml, content: flyToml },
    { path: PROJECT_FILES.dockerfile, content: renderTemplate(readTemplate('Dockerfile.tmpl'), values, 'Dockerfile.tmpl') },
    { path: PROJECT_FILES.dockerignore, content: readTemplate('dockerignore.tmpl'), merge: 'lines' },
    { path: PROJECT_FILES.gitignore, content: readTemplate('gitignore.tmpl'), merge: 'lines' },
    { path: runtime.configFileName, content: formatConfig(buildGatewayConfig(answers)) },
    ...runtimeBundleFiles(runtime.id, runtimeLock).map((f) => ({ path: `${PROJECT_FILES.runtimeDir}/${f.name}`, content: f.content })),
    { path: `${PROJECT_FILES.runtimeDir}/entrypoint.sh`, content: renderTemplate(readTemplate('runtime/entrypoint.sh'), values, 'entrypoint.sh'), mode: 0o755 },
    { path: `${PROJECT_FILES.runtimeDir}/prepare-data.mjs`, content: renderTemplate(readTemplate('runtime/prepare-data.mjs'), values, 'prepare-data.mjs') },
    { path: `${PROJECT_FILES.runtimeDir}/prewarm.mjs`, content: renderTemplate(readTemplate('runtime/prewarm.mjs'), values, 'prewarm.mjs') },
    { path: `${PROJECT_FILES.runtimeDir}/supervisor.mjs`, content: readTemplate('runtime/supervisor.mjs') },
    ...offsiteFiles(runtime),
    ...(answers.ci === 'github-actions' ? [{ path: layout.workflowPath, content: renderWorkflow(answers, layout) }] : []),
  ];
}

/**
 * The off-site uploader (offsite.mjs, run by the supervisor when CLAWDFLY_OFFSITE_EVERY is set), the
 * remote agent whose archive writer it shares with `clawdfly backup` (the very bundle `fly ssh`
 * calls send, so both make the same archive), and what it needs to know of this runtime: the
 * state dir and the same exclusions as `clawdfly backup`.
 */
/** The agent's name in the image, beside offsite.mjs. */
const AGENT_FILE = AGENT_BUNDLE[AGENT_BUNDLE.length - 1];

function offsiteFiles(runtime: GatewayRuntime): ProjectFile[] {
  const settings = { stateDir: STATE_DIR, runtime: runtime.id, excludes: backupExcludes(), excludedLabels: EXCLUDED_LABELS };
  return [
    { path: `${PROJECT_FILES.runtimeDir}/offsite.mjs`, content: readTemplate('runtime/offsite.mjs') },
    { path: `${PROJECT_FILES.runtimeDir}/offsite.json`, content: `${JSON.stringify(settings, null, 2)}\n` },
    { path: `${PROJECT_FILES.runtimeDir}/${AGENT_FILE}`, content: readFileSync(assetPath(...AGENT_BUNDLE), 'utf8') },
  ];
}

/** The facts every later command reads out of fly.toml. */
export interface FlyTomlFacts {
  app?: string;
  primaryRegion?: string;
  internalPort?: number;
  processCommand?: string;
  env: Record<string, string>;
  vmSize?: string;
  memoryMb?: number;
  mountSource?: string;
  mountDestination?: string;
  initialSizeGb?: number;
  restartPolicy?: string;
}

function parseSize(value: unknown, unit: 'mb' | 'gb'): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const m = value.trim().toLowerCase().match(/^(\d+)\s*(mb|gb)?$/);
  if (!m) return undefined;
  const n = Number(m[1]);
  const given = (m[2] ?? unit) as 'mb' | 'gb';
  if (given === unit) return n;
  return unit === 'mb' ? n * 1024 : n / 1024;
}

function firstOf(value: unknown): Record<string, unknown> | undefined {
  if (Array.isArray(value)) return value[0] as Record<string, unknown> | undefined;
  return value as Record<string, unknown> | undefined;
}

export function flyTomlFacts(text: string): FlyTomlFacts {
  const doc = parseToml(text) as Record<string, unknown>;
  const http = doc['http_service'] as Record<string, unknown> | undefined;
  const processes = doc['processes'] as Record<string, string> | undefined;
  const vm = firstOf(doc['vm']);
  const mounts = firstOf(doc['mounts']);
  const restart = firstOf(doc['restart']);
  const env = Object.fromEntries(Object.entries((doc['env'] as Record<string, unknown>) ?? {}).map(([k, v]) => [k, String(v)]));
  return {
    app: doc['app'] as string | undefined,
    primaryRegion: doc['primary_region'] as string | undefined,
    internalPort: http?.['internal_port'] as number | undefined,
    processCommand: processes?.['app'],
    env,
    vmSize: vm?.['size'] as string | undefined,
    memoryMb: parseSize(vm?.['memory'] ?? vm?.['memory_mb'], 'mb'),
    mountSource: mounts?.['source'] as string | undefined,
    mountDestination: mounts?.['destination'] as string | undefined,
    initialSizeGb: parseSize(mounts?.['initial_size'], 'gb'),
    restartPolicy: restart?.['policy'] as string | undefined,
  };
}

/** `--port N` from a gateway command line. */
export function commandPort(command: string | undefined): number | undefined {
  const m = command?.match(/--port[= ](\d+)/);
  return m ? Number(m[1]) : undefined;
}

export function commandBind(command: string | undefined): string | undefined {
  return command?.match(/--bind[= ](\S+)/)?.[1];
}

export function heapFromNodeOptions(nodeOptions: string | undefined): number | undefined {
  const m = nodeOptions?.match(/--max-old-space-size=(\d+)/);
  return m ? Number(m[1]) : undefined;
}

function checkFlyTomlInvariants(text: string, answers: Answers): void {
  const facts = flyTomlFacts(text);
  const runtime = findRuntime(answers.runtime)!;
  const problems: string[] = [];
  if (facts.app !== answers.app) problems.push(`app ${facts.app} ≠ ${answers.app}`);
  if (facts.internalPort !== answers.port || commandPort(facts.processCommand) !== answers.port) {
    problems.push(`internal_port ${facts.internalPort} and --port ${commandPort(facts.processCommand)} must both be ${answers.port}`);
  }
  if (commandBind(facts.processCommand) !== 'lan') problems.push('process must bind lan');
  const heap = heapFromNodeOptions(facts.env['NODE_OPTIONS']);
  if (!heap || facts.memoryMb === undefined || heap >= facts.memoryMb) problems.push(`heap ${heap} must be below memory ${facts.memoryMb}`);
  if (facts.mountDestination !== facts.env[runtime.env.stateDir]) problems.push(`mount ${facts.mountDestination} ≠ state dir ${facts.env[runtime.env.stateDir]}`);
  if (!facts.env['TMPDIR']?.startsWith(`${facts.mountDestination}/`)) problems.push('TMPDIR must be on the volume');
  if (facts.mountSource !== answers.volume) problems.push(`mount source ${facts.mountSource} ≠ ${answers.volume}`);
  if (facts.restartPolicy !== 'always') problems.push('restart policy must be always');
  if (problems.length > 0) throw new Error(`fly.toml template produced an inconsistent file: ${problems.join('; ')}`);
}
