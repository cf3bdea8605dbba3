/**
 * `clawdfly upgrade [--to <runtime>[@<version>]]`: plan (the local files that change, as diffs; the
 * remote steps; what is kept) → confirm → src/upgrade/ does the rest: backup of the state dir, the project
 * rewritten for the new row, deploy's plan and apply, verification, and on failure the automatic
 * rollback. `--dry-run` prints the plan and changes nothing, locally or on Fly.
 */
import { relative } from 'node:path';
import type { CommandContext } from '../types.js';
import type { upgradeSpec } from './spec.js';
import { isClawdflyError, UsageError } from '../../errors.js';
import { UPGRADE_JOURNAL } from '../../release/journal.js';
import { convergeInterruptedUpgrade } from '../../release/converge.js';
import { holdSignals, InterruptedError, needsInterruptedMessage, wasInterrupted } from '../../util/interrupt.js';
import { quoteWord } from '../../fly/quote.js';
import type { FlyClient } from '../../fly/client.js';
import type { Machine } from '../../fly/json.js';
import { showArgv } from '../../deploy/plan.js';
import { imageRefOf } from '../../deploy/state.js';
import { PROJECT_FILES } from '../../project/paths.js';
import { flyFor, openProject } from '../../operate/context.js';
import { pickMachine } from '../../operate/machine.js';
import type { Project } from '../../project/project.js';
import { remoteConfigPath } from '../../gateway/runtime.js';
import { planLocalUpgrade, type LocalUpgrade } from '../../release/local.js';
import { resolveUpgradeTarget } from '../../release/target.js';
import { npmRegistry, prepareRuntime } from '../../project/runtime-release.js';
import { findFirstStartMigrations, migrationBudgetMs, migrationCommand, type FoundMigration } from '../../release/first-start.js';
import { defaultVerifyTimeoutMs } from '../../deploy/verify.js';
import { performUpgrade } from '../../release/upgrade.js';
import { isJsonMode, out } from '../../ui/output.js';
import { Progress } from '../../ui/progress.js';
import { canPrompt, confirmOrYes } from '../../ui/prompt.js';
import { style } from '../../ui/style.js';
import { unifiedDiff } from '../../util/diff.js';

function verifyTimeoutMs(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 10) {
    throw new UsageError('--verify-timeout takes a whole number of seconds, at least 10', '--verify-timeout 300', 'bad-flag');
  }
  return value * 1000;
}

interface RemoteStep {
  step: string;
  what: string;
  argv?: string[];
  stdin?: string[];
}

export async function run({ opts }: CommandContext<typeof upgradeSpec>): Promise<number> {
  const timeoutMs = verifyTimeoutMs(opts.verifyTimeout);
  const dryRun = opts.dryRun === true;
  const yes = opts.yes === true;
  const opened = await openProject(opts);
  // Ctrl-C is held from here: the upgrade finishes or undoes what it began, then exits 130.
  const guard = holdSignals({ firstNotice: 'stopping once what the upgrade began is finished or undone', whenStopped: `the next clawdfly upgrade, deploy or rollback finishes it (${UPGRADE_JOURNAL})`, warn: (line) => out.warn(line) });
  try {
    return await upgrade(opts, opened, { timeoutMs, dryRun, yes });
  } catch (error) {
    if (guard.signal && needsInterruptedMessage(error) && !(isClawdflyError(error) && error.exitCode === 130)) {
      // Stopped before the upgrade began (a flyctl call that would have started): nothing changed.
      throw new InterruptedError(`interrupted before the upgrade changed anything`, `clawdfly upgrade${opts.to ? ` --to ${quoteWord(opts.to)}` : ''}  (starts again)`);
    }
    throw error;
  } finally {
    guard.release();
  }
}

async function upgrade(opts: CommandContext<typeof upgradeSpec>['opts'], opened: Project, { timeoutMs, dryRun, yes }: { timeoutMs?: number; dryRun: boolean; yes: boolean }): Promise<number> {
  const project = await convergeInterruptedUpgrade(opened, () => flyFor(opened, opts), { dryRun, yes, deadlineMs: timeoutMs, rerun: `clawdfly upgrade${opts.to ? ` --to ${quoteWord(opts.to)}` : ''} --yes` });
  const target = resolveUpgradeTarget(opts.to, project.runtime);
  if (target.kind === 'same') {
    if (isJsonMode()) out.json({ ok: true, app: project.app, runtime: project.runtime.id, changed: false });
    else {
      out.success(`${project.app} is already on ${project.runtime.id}: nothing to upgrade`);
      out.info(`  ${style.dim(`(${PROJECT_FILES.answers} says so; if the machine runs something else, ${style.cmd('clawdfly deploy')} puts it there)`)}`);
    }
    return 0;
  }
  // A release with no row: published? engines? its lockfile. Refused (exit 2) before any flyctl call.
  const release = await prepareRuntime(target.runtime.id, { flag: '--to', registry: npmRegistry({ registry: project.answers?.npmRegistry || undefined }) });
  const plan = await planLocalUpgrade(project, target.runtime, { runtimeLock: release.lock });
  if (release.notice) plan.warnings.unshift(release.notice);
  // Without a terminal, --yes is the only way to say yes: refused before any flyctl call.
  if (!dryRun && !yes && !canPrompt()) {
    throw new UsageError(`upgrading redeploys ${project.app} with ${plan.to.id} and needs confirmation, and there is no terminal to ask on`, `add --yes: clawdfly upgrade --to ${plan.to.id} --yes  (or look first: --dry-run)`, 'not-confirmed');
  }

  const fly = flyFor(project, opts);
  const { machine } = await pickMachine(fly);
  // Files the new gateway imports with its own command at its first start: the wait grows by its budget.
  const migrations = await findFirstStartMigrations(fly, project.stateDir, machine.id, plan.to);
  const verifyMs = migrations.length ? (timeoutMs ?? defaultVerifyTimeoutMs()) + migrationBudgetMs(migrations) : timeoutMs;
  const remote = remoteSteps(project, fly, machine, plan, verifyMs, migrations);
  const kept = keptThings(project, plan);
  const summary = {
    app: project.app,
    machine: machine.id,
    from: { runtime: plan.from.id, imageRef: imageRefOf(machine), release: machine.config?.metadata?.['fly_release_version'] ?? null },
    to: { runtime: plan.to.id },
    files: plan.changes.map((c) => ({ path: c.path, change: c.change, ...(c.edited ? { edited: true } : {}) })),
    secrets: plan.tokenRename ? [{ from: plan.tokenRename.from, to: plan.tokenRename.to, sameValue: true }] : [],
    remote: remote.map(({ step, what, argv, stdin }) => ({ step, what, ...(argv ? { argv: ['flyctl', ...argv] } : {}), ...(stdin ? { stdin } : {}) })),
    firstStartMigrations: migrations.map((m) => ({ path: m.path, what: m.migration.what, command: migrationCommand(plan.to, m.migration), measuredSeconds: m.migration.measuredSeconds })),
    kept,
    warnings: plan.warnings,
  };

  if (dryRun || (!yes && !isJsonMode())) printPlan(project, plan, remote, kept, dryRun);
  if (!isJsonMode()) for (const w of plan.warnings) out.warn(w);
  if (dryRun) {
    if (isJsonMode()) out.json({ ok: true, dryRun: true, ...summary });
    return 0;
  }
  const ok = await confirmOrYes(`Upgrade ${project.app} from ${plan.from.id} to ${plan.to.id}?`, { yes, defaultValue: false, flagHint: `add --yes: clawdfly upgrade --to ${plan.to.id} --yes` });
  if (!ok) throw new UsageError('nothing upgraded', `clawdfly upgrade --to ${plan.to.id} --yes`, 'not-confirmed');

  const result = await performUpgrade({ project, fly, machine, plan, progress: new Progress(), deadlineMs: verifyMs, migrations });
  if (wasInterrupted()) {
    throw new InterruptedError(`interrupted after the upgrade had finished: ${project.app} runs ${plan.to.id} (release v${result.record.version})`, `go back: clawdfly rollback --to v${result.before.version}`);
  }
  if (isJsonMode()) {
    out.json({ ok: true, ...summary, migrated: result.migrated.map((m) => m.path), release: result.record.version, imageRef: result.record.imageRef, rollbackTo: result.before.version, backup: result.backup.file, config: result.project.remoteConfigPath, warnings: [...plan.warnings, ...result.warnings] });
    return 0;
  }
  for (const w of result.warnings) out.warn(w);
  out.line();
  out.success(`${style.bold(project.app)} runs ${plan.to.id} (release v${result.record.version}; was ${plan.from.id}, v${result.before.version})`);
  for (const m of result.migrated) out.info(`  ${m.migration.what}: imported by \`${migrationCommand(plan.to, m.migration)}\` at the first start (${m.path} renamed *.migrated-*)`);
  out.info(`  config: ${result.project.remoteConfigPath} · token: ${plan.tokenRename ? `${plan.tokenRename.to} (same value: paired browsers keep working)` : 'unchanged'}`);
  out.info(`  ${project.stateDir} before the upgrade: ${shown(result.backup.file)}`);
  out.info(`  go back: ${style.cmd(`clawdfly rollback --to v${result.before.version}`)}  (the ${plan.from.productName} image, files and config)`);
  return 0;
}

function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

function remoteSteps(project: Project, fly: FlyClient, machine: Machine, plan: LocalUpgrade, timeoutMs: number | undefined, migrations: FoundMigration[]): RemoteStep[] {
  const release = machine.config?.metadata?.['fly_release_version'];
  const newConfig = remoteConfigPath(plan.to, project.stateDir);
  const steps: RemoteStep[] = [
    { step: 'backup', what: `${project.stateDir} of machine ${machine.id} into .clawdfly/backups/ (one ssh stream, checked); if it fails, nothing else happens` },
    { step: 'state', what: `copy ${plan.from.productName}'s files on ${project.stateDir} into ${project.stateDir}/.clawdfly-pre-upgrade-<random>/ (needs their size free on the volume): ${plan.to.productName} migrates devices, sessions and cron into SQLite at its first start, and a rollback puts these back` },
  ];
  if (plan.tokenRename) {
    steps.push({ step: 'secrets', what: `stage ${plan.tokenRename.to} with the value of ${plan.tokenRename.from} (over stdin, never on argv)`, argv: fly.secretsImportArgv(true), stdin: [`${plan.tokenRename.to}=***`] });
  }
  steps.push(
    { step: 'deploy', what: `build and deploy the ${plan.to.productName} image (${plan.to.packageName}@${plan.to.packageVersion} on Node ${plan.to.nodeMajor}) with the new fly.toml`, argv: fly.deployArgv({ config: PROJECT_FILES.flyToml, noPublicIps: project.exposure === 'private' }) },
    ...migrations.map((m) => ({
      step: 'migrate',
      what: `${m.migration.what} is on the volume (${m.path}): ${m.migration.why}. The new image's entrypoint runs \`${migrationCommand(plan.to, m.migration)}\` once before the gateway's first start (about ${Math.round(m.migration.measuredSeconds / 60)} min, at most ${Math.round(m.migration.timeoutSeconds / 60)}; on a scratch copy of the config, so ${newConfig} stays clawdfly's), which imports it into SQLite and renames the file *.migrated-*`,
    })),
    { step: 'config', what: `write ${newConfig} (0600, atomic) from the migrated ${plan.to.configFileName}` },
    { step: 'verify', what: `the machine starts and logs ${plan.to.productName}'s listening line (/${plan.to.listeningLine.source}/)${plan.to.readyLine ? ` and then /${plan.to.readyLine.source}/` : ''} within ${Math.round((timeoutMs ?? defaultVerifyTimeoutMs()) / 1000)} s${migrations.length ? ' (the migration included)' : ''}` },
    { step: 'on failure', what: `automatic rollback to the release that runs now${release ? ` (v${release})` : ''}: fly deploy --image ${machine.config?.image ?? imageRefOf(machine)}, the local files and ${remoteConfigPath(plan.from, project.stateDir)} as they are now` },
  );
  return steps;
}

function keptThings(project: Project, plan: LocalUpgrade): string[] {
  return [
    `${project.stateDir}: sessions, credentials, paired devices, workspace, cron — ${plan.to.productName} reads them through ${plan.to.env.stateDir}=${project.stateDir} and imports devices, sessions and cron into its SQLite store at first start (the originals are archived beside them, and kept as they were for a rollback)`,
    ...(plan.from.configFileName !== plan.to.configFileName ? [`${remoteConfigPath(plan.from, project.stateDir)} stays on the volume (rollback puts ${plan.from.productName} back on it)`] : []),
    ...(plan.tokenRename ? [`the Fly secret ${plan.tokenRename.from} (the ${plan.from.productName} image reads it after a rollback; ${plan.to.productName} ignores it)`] : []),
    `the app ${project.app}, its volume ${project.fly.mountSource ?? ''}, addresses, region, VM size and memory; your answers (channels, models, ${project.exposure})`,
  ];
}

/** The lockfile's diff is thousands of lines: a count says enough. */
const SUMMARIZED = new Set([`${PROJECT_FILES.runtimeDir}/package-lock.json`]);

function printPlan(project: Project, plan: LocalUpgrade, remote: RemoteStep[], kept: string[], dryRun: boolean): void {
  if (isJsonMode()) return;
  out.info(style.bold(`Upgrade of ${project.app}: ${plan.from.id} → ${plan.to.id}${dryRun ? ' — dry run, nothing will be changed' : ''}`));
  out.info(style.bold('Local files'));
  for (const c of plan.changes) {
    const note = c.path === plan.to.configFileName && plan.from.configFileName !== plan.to.configFileName ? `  (${plan.from.configFileName} migrated to ${plan.to.productName}'s shape)` : c.edited ? style.warn('  (edited since init: replaced)') : '';
    out.info(`  ${c.change.padEnd(7)} ${c.path}${note}`);
    if (c.change === 'delete' && c.path === plan.from.configFileName) continue;
    if (SUMMARIZED.has(c.path)) {
      out.info(style.dim(`          ${lineCount(c.before)} → ${lineCount(c.after)} lines (${plan.from.packageName}@${plan.from.packageVersion} → ${plan.to.packageName}@${plan.to.packageVersion})`));
      continue;
    }
    // The renamed config is shown against the file it comes from: the diff is the migration.
    const renamedFrom = c.change === 'create' && c.path === plan.to.configFileName ? plan.changes.find((d) => d.change === 'delete' && d.path === plan.from.configFileName) : undefined;
    const [before, fromLabel] = renamedFrom ? [renamedFrom.before, `${renamedFrom.path} (now)`] : [c.before, c.before === undefined ? '/dev/null' : `${c.path} (now)`];
    const diff = unifiedDiff(before ?? '', c.after ?? '', { from: fromLabel, to: c.after === undefined ? '/dev/null' : `${c.path} (${plan.to.id})` });
    const lines = diff.split('\n').filter(Boolean);
    for (const line of lines.slice(0, 60)) out.info(style.dim(`          ${line}`));
    if (lines.length > 60) out.info(style.dim(`          … ${lines.length - 60} more lines`));
  }
  out.info(`  update  ${PROJECT_FILES.answers}  (runtime ${plan.from.id} → ${plan.to.id}; every other answer kept)`);
  if (plan.tokenRename) out.info(`  update  ${PROJECT_FILES.secrets}  (${plan.tokenRename.from} renamed ${plan.tokenRename.to}, same value)`);
  out.info(style.bold(`On Fly`));
  remote.forEach((s, i) => {
    out.info(`  ${i + 1}. ${s.step.padEnd(10)} ${s.what}`);
    if (s.argv) out.info(style.dim(`       $ ${showArgv(s.argv)}${s.stdin ? `   (stdin: ${s.stdin.join(', ')})` : ''}`));
  });
  out.info(style.bold('Kept'));
  for (const k of kept) out.info(`  ${k}`);
  if (dryRun) out.info(`Run it: ${style.cmd(`clawdfly upgrade --to ${quoteWord(plan.to.id)}`)}`);
}

function lineCount(text: string | undefined): number {
  return text === undefined ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}
