/**
 * The local half of an upgrade: the project rewritten for another runtime row with the same
 * templates `init` renders, from the same answers (app, region, memory, port, volume, channels,
 * models, private/public, CI), with fly.toml's own values winning where the user or doctor changed
 * them. The user's gateway config is carried over (migrated to the new row's shape, under its file
 * name), not regenerated: edits made since init survive. Nothing is written until apply.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ClawdflyError, UsageError } from '../errors.js';
import { checkConfigText, formatProblem, parseConfigText } from '../gateway/config-file.js';
import type { GatewayRuntime } from '../gateway/runtime.js';
import type { Answers } from '../project/answers.js';
import { planFiles, readWrittenHashes, sha256, type WrittenHashes } from '../project/file-plan.js';
import { controlUiOrigins, migrateGatewayConfig, withControlUiOrigins } from '../project/gateway-config.js';
import { PROJECT_FILES } from '../project/paths.js';
import type { Project } from '../project/project.js';
import { renderProject } from '../project/render.js';
import { repoLayout } from '../project/repo-layout.js';
import { ciInstallPlan, runningOrigin } from '../project/ci-install.js';
import { readSecrets, renameGatewayToken, writeSecrets } from '../project/secrets.js';
import { listFiles } from '../deploy/state.js';
import { readTextIfExists, writeFileAtomic } from '../util/fs.js';

export interface LocalChange {
  path: string;
  change: 'create' | 'update' | 'delete';
  before?: string;
  after?: string;
  mode?: number;
  /** The user changed this file since init wrote it: the upgrade replaces those edits (the old file stays in the release copy). */
  edited?: boolean;
}

export interface LocalUpgrade {
  from: GatewayRuntime;
  to: GatewayRuntime;
  answers: Answers;
  changes: LocalChange[];
  /** The migrated gateway config (the new file's content). */
  configText: string;
  /** The gateway token's secret name, before → after (undefined when the name stays). */
  tokenRename?: { from: string; to: string };
  written: WrittenHashes;
  warnings: string[];
}

/** The recorded answers with what fly.toml says now (fly.toml is the source of truth once written). */
function currentAnswers(project: Project, to: GatewayRuntime): Answers {
  const answers = project.answers;
  if (!answers) {
    throw new UsageError(`${PROJECT_FILES.answers} is missing in ${project.dir}: the upgrade renders the project from init's answers`, 'clawdfly init --keep  (records the answers again and keeps your files), then clawdfly upgrade', 'no-answers');
  }
  const f = project.fly;
  return {
    ...answers,
    app: project.app,
    region: f.primaryRegion ?? answers.region,
    vmSize: f.vmSize ?? answers.vmSize,
    memoryMb: f.memoryMb ?? answers.memoryMb,
    port: f.internalPort ?? answers.port,
    volume: f.mountSource ?? answers.volume,
    volumeSizeGb: f.initialSizeGb ?? answers.volumeSizeGb,
    runtime: to.id,
  };
}

export interface LocalUpgradeOptions {
  /** Where the running clawdfly came from (src/project/ci-install.ts): what the CI workflow's install step pins. */
  ciOrigin?: ReturnType<typeof runningOrigin>;
  /** The lockfile of a release with no row (src/project/runtime-release.ts prepareRuntime). */
  runtimeLock?: string;
}

export async function planLocalUpgrade(project: Project, to: GatewayRuntime, options: LocalUpgradeOptions = {}): Promise<LocalUpgrade> {
  const from = project.runtime;
  const answers = currentAnswers(project, to);
  const warnings: string[] = [];
  const written = await readWrittenHashes(project.dir, PROJECT_FILES.written);

  // The user's config, reshaped for the new row (never regenerated from the answers).
  if (project.configText === undefined) throw new UsageError(`no ${from.configFileName} in ${project.dir}`, 'clawdfly config pull  (takes the machine\'s copy), then clawdfly upgrade', 'no-config');
  let parsed: unknown;
  try {
    parsed = parseConfigText(project.configText).value;
  } catch (error) {
    throw new UsageError(`${from.configFileName} does not parse: ${(error as Error).message.split('\n')[0]}`, 'clawdfly config validate  (shows the line), fix it, then clawdfly upgrade', 'config-invalid');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`${from.configFileName} is not a JSON object`, 'clawdfly config pull', 'config-invalid');
  // OpenClaw serves the Control UI only to allowed browser origins: the app's own, or no browser could connect.
  const reachable = to.configDialect === 'agents-entries' ? withControlUiOrigins(parsed as Record<string, unknown>, controlUiOrigins(project.app, project.exposure)) : (parsed as Record<string, unknown>);
  const configText = migrateGatewayConfig(reachable, to);
  const check = checkConfigText(configText, to);
  if (!check.ok) {
    throw new ClawdflyError(`${from.configFileName} migrated to ${to.configFileName} would be refused by ${to.productName}`, {
      hint: `fix ${from.configFileName} (clawdfly config validate), then clawdfly upgrade`,
      code: 'config-invalid',
      exitCode: 2,
      evidence: check.problems.map((p) => formatProblem(p, to.configFileName)),
    });
  }

  // Every other file as init renders it for the new row.
  const layout = repoLayout(project.dir);
  const rendered = [...renderProject(answers, layout, options.runtimeLock).filter((f) => f.path !== to.configFileName), ...ciInstall(project, answers, layout, options, warnings)];
  const planned = await planFiles(project.dir, rendered, written);
  const changes: LocalChange[] = [];
  for (const f of planned) {
    if (f.status === 'identical') continue;
    changes.push({ path: f.path, change: f.status === 'create' ? 'create' : 'update', before: f.existing, after: f.next, mode: f.mode, edited: f.status === 'conflict' });
  }
  const oldConfig = from.configFileName;
  const configBefore = from.configFileName === to.configFileName ? project.configText : await readTextIfExists(join(project.dir, to.configFileName));
  if (configBefore !== configText) changes.push({ path: to.configFileName, change: configBefore === undefined ? 'create' : 'update', before: configBefore, after: configText, mode: await modeOf(join(project.dir, oldConfig)) });
  if (oldConfig !== to.configFileName) changes.push({ path: oldConfig, change: 'delete', before: project.configText });
  // runtime/ files the new row does not have would go into its image: they go.
  const renderedPaths = new Set(rendered.map((f) => f.path));
  for (const file of await listFiles(project.dir, PROJECT_FILES.runtimeDir)) {
    if (!renderedPaths.has(file)) changes.push({ path: file, change: 'delete', before: await readTextIfExists(join(project.dir, file)) });
  }

  const edited = changes.filter((c) => c.edited).map((c) => c.path);
  if (edited.length) warnings.push(`${edited.join(', ')} ${edited.length === 1 ? 'was' : 'were'} edited since init wrote ${edited.length === 1 ? 'it' : 'them'}: the upgrade writes ${to.id}'s version (the diff below shows what goes; the old files stay in .clawdfly/releases/ and come back with clawdfly rollback)`);

  // written.json: init's record of its own files. The migrated config is not init's (it carries the
  // user's content and the Control UI origins): a later `init` shows its diff instead of replacing it.
  const nextWritten: WrittenHashes = { ...written };
  for (const c of changes) if (c.change !== 'delete' && c.path !== to.configFileName) nextWritten[c.path] = sha256(c.after!);
  delete nextWritten[oldConfig];
  delete nextWritten[to.configFileName];
  for (const c of changes) if (c.change === 'delete' && c.path !== oldConfig) delete nextWritten[c.path];

  const tokenRename = from.env.gatewayToken !== to.env.gatewayToken ? { from: from.env.gatewayToken, to: to.env.gatewayToken } : undefined;
  return { from, to, answers, changes, configText, tokenRename, written: nextWritten, warnings };
}

/** Writes the plan: files (each atomically), answers.json, written.json, and the token under its new name. */
export async function applyLocalUpgrade(project: Project, plan: LocalUpgrade): Promise<void> {
  for (const c of plan.changes) {
    const abs = join(project.dir, c.path);
    if (c.change === 'delete') await rm(abs, { force: true });
    else await writeFileAtomic(abs, c.after!, c.mode ?? 0o644);
  }
  await writeFileAtomic(join(project.dir, PROJECT_FILES.answers), JSON.stringify(plan.answers, null, 2) + '\n');
  await writeFileAtomic(join(project.dir, PROJECT_FILES.written), JSON.stringify(plan.written, null, 2) + '\n');
  if (plan.tokenRename) {
    const secrets = await readSecrets(project.dir);
    await writeSecrets(project.dir, renameGatewayToken(secrets, plan.tokenRename.from, plan.tokenRename.to));
  }
}

/**
 * The workflow is rendered again by this clawdfly, so its pinned install (`.github/clawdfly/`) must be
 * there and name this clawdfly when it came from a registry: a project made before the pin existed
 * would otherwise push a workflow whose `npm ci` finds no lockfile. A clawdfly not from a registry
 * cannot pin itself: it keeps the pin that is there, and says so when there is none.
 */
function ciInstall(project: Project, answers: Answers, layout: ReturnType<typeof repoLayout>, options: LocalUpgradeOptions, warnings: string[]): ReturnType<typeof ciInstallPlan> {
  try {
    return 'ciOrigin' in options ? ciInstallPlan(project.dir, answers, layout, undefined, options.ciOrigin) : ciInstallPlan(project.dir, answers, layout, undefined);
  } catch (error) {
    warnings.push(`the CI workflow's pinned install (${layout.workflowPath.replace(/workflows\/[^/]+$/, 'clawdfly/')}) could not be written (${(error as Error).message.split('\n')[0]}): its npm ci fails until it is; run clawdfly init --keep --github-actions --clawdfly-spec <published clawdfly> before the next push`);
    return [];
  }
}

async function modeOf(path: string): Promise<number | undefined> {
  const s = await stat(path).catch(() => undefined);
  return s ? s.mode & 0o777 : undefined;
}
