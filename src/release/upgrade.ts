/**
 * `clawdfly upgrade`, the remote half: back up the state dir (nothing happens when that fails), keep a
 * release the way back can return to, write the local project for the new row, then run deploy's
 * own plan and apply (the token under its new name over stdin, the new image, the migrated config
 * on the state dir, verified by the new gateway's listening line). When any of that fails after the local
 * files changed, rollback's own path puts the old image, files and config back, and the error says
 * why the upgrade failed.
 */
import { takeBackup, type BackupResult } from '../backup/backup.js';
import { ClawdflyError, isClawdflyError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import type { Machine } from '../fly/json.js';
import { applyPlan, type ApplyResult } from '../deploy/apply.js';
import { computePlan, observe } from '../deploy/plan.js';
import { localPreflight } from '../deploy/preflight.js';
import { currentAndPrevious, fileChanges, hashLocalFiles, readReleases, recordRelease, releaseConfigText, restoreFiles, type ReleaseRecord } from './releases.js';
import { rollbackToRelease } from './rollback.js';
import { imageRefOf, readDeployState } from '../deploy/state.js';
import { pickMachine } from '../operate/machine.js';
import { loadProject, type Project } from '../project/project.js';
import { readSecrets, renameGatewayToken, writeSecrets } from '../project/secrets.js';
import { Progress } from '../ui/progress.js';
import { applyLocalUpgrade, type LocalUpgrade } from './local.js';
import { dropSnapshot, snapshotState, type Snapshot } from './state-snapshot.js';
import { backupKey, JournalWriter, restoreDeployState, UPGRADE_JOURNAL } from './journal.js';
import { beginCleanup, InterruptedError, wasInterrupted } from '../util/interrupt.js';
import { findFirstStartMigrations, type FoundMigration } from './first-start.js';

export interface UpgradeInput {
  project: Project;
  fly: FlyClient;
  machine: Machine;
  plan: LocalUpgrade;
  progress: Progress;
  deadlineMs?: number;
  /** Files the new gateway's entrypoint imports before its first start (found before anything changed). */
  migrations?: FoundMigration[];
}

export interface UpgradeResult {
  project: Project;
  backup: BackupResult;
  before: ReleaseRecord;
  record: ReleaseRecord;
  applied: ApplyResult;
  /** Where the old gateway's files were kept on the volume. */
  snapshot: string;
  /** The first-start migrations that ran: their files are gone (renamed by the gateway's command). */
  migrated: FoundMigration[];
  warnings: string[];
}

/**
 * The release the machine runs now, with the local files as they are: what a failed upgrade (or a
 * later `clawdfly rollback`) returns to. Recorded when the history has no such record (a project
 * deployed before releases were recorded, or local files changed since the last deploy).
 */
export async function ensureCurrentRelease(project: Project, machine: Machine): Promise<ReleaseRecord> {
  const { current } = currentAndPrevious(await readReleases(project.dir, project.app));
  if (current && current.imageRef === imageRefOf(machine) && current.runtime === project.runtime.id) {
    const now = await hashLocalFiles(project);
    const same = Object.keys(now).length === Object.keys(current.files).length && Object.entries(now).every(([f, h]) => current.files[f]?.sha256 === h.sha256);
    if (same) return current;
  }
  return recordRelease(project, machine, { kind: 'deploy' });
}

export class UpgradeFailedError extends ClawdflyError {}

/** A failed removal is said (doctor lists the copy as a leftover), never a failed way back. */
async function dropUnneededSnapshot(fly: FlyClient, stateDir: string, machineId: string, snapshot: string): Promise<string[]> {
  try {
    await dropSnapshot(fly, stateDir, machineId, snapshot);
    return [];
  } catch (error) {
    return [`${snapshot} (a copy of the old gateway's files) was not removed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}; clawdfly doctor --fix removes it`];
  }
}

export async function performUpgrade(input: UpgradeInput): Promise<UpgradeResult> {
  const { project, fly, machine, plan, progress } = input;
  // On disk before the first change: a run stopped half-way is finished or undone by the next one.
  const journal = await JournalWriter.begin(project, plan.from.id, plan.to.id);

  // 1. The state dir first. No backup, no upgrade.
  let backup: BackupResult;
  try {
    backup = await progress.run('backup', `Backing up ${project.stateDir} of ${project.app} first`, () => takeBackup(project, fly, machine));
  } catch (error) {
    await journal.clear();
    // A held Ctrl-C ends the backup's flyctl call: whatever it failed with, the cause is the signal.
    if (error instanceof InterruptedError || wasInterrupted()) throw new InterruptedError(`interrupted during the backup of ${project.stateDir}: nothing was upgraded; ${project.app} runs ${plan.from.id}`, `clawdfly upgrade --to ${plan.to.id}  (starts again)`);
    const why = error instanceof Error ? error.message : String(error);
    throw new ClawdflyError(`the backup of ${project.stateDir} failed, so nothing was upgraded: ${why}`, {
      hint: isClawdflyError(error) && error.hint ? error.hint : 'clawdfly backup  (shows what fails), then clawdfly upgrade again',
      code: 'backup-failed',
      evidence: isClawdflyError(error) ? error.evidence : [],
    });
  }

  // 2. The way back: the release that runs now, and the old gateway's files kept on the volume
  // (the new gateway migrates them at its first start: OpenClaw moves sessions and devices into SQLite).
  const beforeImage = imageRefOf(machine);
  let before: ReleaseRecord;
  let snapshot: Snapshot;
  try {
    before = await ensureCurrentRelease(project, machine);
    await journal.update({ stage: 'snapshot', before: before.version, beforeImage, backup: backupKey(project, backup.file) });
    snapshot = await progress.run('state', `keep ${plan.from.productName}'s files in ${project.stateDir} for the way back (a copy)`, () => snapshotState(fly, project.stateDir, machine.id));
    await journal.update({ stage: 'local', snapshot: snapshot.dir });
  } catch (error) {
    // Nothing was deployed and no local file changed: the journal goes (a half-made copy on the volume is a leftover doctor lists).
    await journal.clear();
    if (error instanceof InterruptedError) throw new InterruptedError(`interrupted before the upgrade changed anything: ${project.app} runs ${plan.from.id}, the local files are as they were`, `clawdfly upgrade --to ${plan.to.id}  (starts again)`);
    throw error;
  }
  let upgraded: Project | undefined;
  try {
    await applyLocalUpgrade(project, plan);
    upgraded = await loadProject(project.dir, { app: project.app });
    const facts = localPreflight(upgraded);
    const state = await readDeployState(upgraded.dir, upgraded.app);
    const observed = await progress.run('preflight', `look at ${upgraded.app} on Fly again`, () => observe(fly));
    const deployPlan = await computePlan(fly, upgraded, facts, observed, state, {});
    // 3. deploy's own apply: secrets (new names, stdin), image, config on the state dir, verification.
    const applied = await applyPlan({ fly, project: upgraded, facts, plan: deployPlan, state, progress, verifyTimeoutMs: input.deadlineMs });
    const record = await recordRelease(upgraded, applied.machine, { kind: 'upgrade', backup: backup.file, upgradedFrom: plan.from.id, stateSnapshot: snapshot.dir });
    // Recorded: the upgrade is done; what follows only reports.
    await journal.clear();
    beginCleanup();
    const skipped = snapshot.skipped.length ? [`not kept for the way back (not readable by the gateway user): ${snapshot.skipped.join(', ')} (the backup has them)`] : [];
    const migrated = await checkMigrations(fly, upgraded, applied.machine.id, input.migrations ?? []);
    return { project: upgraded, backup, before, record, applied, snapshot: snapshot.dir, migrated: migrated.done, warnings: [...facts.warnings, ...applied.verify.warnings, ...skipped, ...migrated.warnings] };
  } catch (error) {
    // The way back runs whatever stopped the way forward (a failure, Ctrl-C): flyctl calls go again.
    beginCleanup();
    const failure = await undo({ project, upgraded, fly, before, beforeImage, backup, plan, error, deadlineMs: input.deadlineMs, snapshot: snapshot.dir, deployState: journal.entry.deployState });
    if (failure.code !== 'upgrade-rollback-failed') await journal.clear();
    throw failure;
  }
}

/**
 * The gateway started, so its first-start migrations ran: a file still there means the entrypoint's
 * command did not import it (the gateway started anyway, without what it holds): a warning with the way to see why.
 */
async function checkMigrations(fly: FlyClient, project: Project, machineId: string, migrations: FoundMigration[]): Promise<{ done: FoundMigration[]; warnings: string[] }> {
  if (!migrations.length) return { done: [], warnings: [] };
  const left = new Set((await findFirstStartMigrations(fly, project.stateDir, machineId, project.runtime)).map((f) => f.path));
  return {
    done: migrations.filter((m) => !left.has(m.path)),
    warnings: migrations.filter((m) => left.has(m.path)).map((m) => `${m.path} is still on the volume: ${m.migration.what} was not imported at the first start (clawdfly logs shows why; the next boot tries again)`),
  };
}

/**
 * Puts things back after a failed upgrade and returns the error to throw: why the upgrade failed,
 * and what was restored (or, when the way back failed too, what to run).
 */
async function undo(ctx: { project: Project; upgraded?: Project; fly: FlyClient; before: ReleaseRecord; beforeImage: string; backup: BackupResult; plan: LocalUpgrade; error: unknown; deadlineMs?: number; snapshot: string; deployState?: string | null }): Promise<ClawdflyError> {
  const { fly, before, plan, error } = ctx;
  const interrupted = wasInterrupted();
  const why = interrupted ? 'interrupted by Ctrl-C' : error instanceof Error ? error.message : String(error);
  // Ctrl-C: exit 130 once the way back is done (the README's exit codes).
  const exitCode = interrupted ? 130 : 1;
  const evidence = isClawdflyError(error) ? error.evidence : [];
  const now = ctx.upgraded ?? (await loadProject(ctx.project.dir, { app: ctx.project.app }));
  const changes = await fileChanges(now, before);
  let machine: Machine | undefined;
  try {
    machine = (await pickMachine(fly, { started: false })).machine;
  } catch {
    machine = undefined;
  }
  try {
    if (machine && imageRefOf(machine) === ctx.beforeImage) {
      // Nothing new was deployed: the machine still runs the old gateway. Only the local files go back.
      await restoreFiles(now, before, changes);
      await writeSecrets(now.dir, renameGatewayToken(await readSecrets(now.dir), plan.to.env.gatewayToken, plan.from.env.gatewayToken));
      // deploy's record of what runs, as it was: the next deploy sees the old release as deployed
      if (ctx.deployState !== undefined) await restoreDeployState(now.dir, ctx.deployState);
      // No release needs the copy of the old gateway's files: the new one never started on the volume.
      const warnings = await dropUnneededSnapshot(fly, ctx.project.stateDir, machine.id, ctx.snapshot);
      return new UpgradeFailedError(`the upgrade to ${plan.to.id} ${interrupted ? 'was interrupted' : 'failed'} before its image was deployed: ${why}. ${ctx.project.app} still runs ${plan.from.id}; the local files are back as they were`, {
        hint: interrupted ? `clawdfly upgrade --to ${plan.to.id}  (starts again)` : isClawdflyError(error) && error.hint && !(error instanceof InterruptedError) ? error.hint : 'clawdfly upgrade again once the cause is fixed',
        code: interrupted ? 'upgrade-interrupted' : 'upgrade-failed',
        exitCode,
        evidence: [...evidence, ...warnings],
      });
    }
    const targetConfig = await releaseConfigText(now, before);
    const back = await rollbackToRelease({ project: now, fly, machine: machine!, target: before, changes, targetConfig, progress: new Progress(), backup: ctx.backup, deadlineMs: ctx.deadlineMs, stateSnapshot: ctx.snapshot });
    return new UpgradeFailedError(`the upgrade to ${plan.to.id} ${interrupted ? 'was interrupted' : 'failed'} (${why}); rolled back automatically: ${ctx.project.app} runs release v${before.version} (${plan.from.id}) again, recorded as v${back.record.version}`, {
      hint: interrupted ? `clawdfly upgrade --to ${plan.to.id}  (starts again) · the state before the upgrade: ${ctx.backup.file}` : `see why: clawdfly logs · the state before the upgrade: ${ctx.backup.file}`,
      code: interrupted ? 'upgrade-interrupted' : 'upgrade-rolled-back',
      exitCode,
      evidence,
    });
  } catch (undoError) {
    const undoWhy = undoError instanceof Error ? undoError.message : String(undoError);
    return new UpgradeFailedError(`the upgrade to ${plan.to.id} failed (${why}), and so did the automatic rollback (${undoWhy})`, {
      hint: `clawdfly upgrade, deploy or rollback finishes the way back first (the upgrade's journal is in ${UPGRADE_JOURNAL}); ${ctx.project.stateDir} before the upgrade is in ${ctx.backup.file}`,
      code: 'upgrade-rollback-failed',
      exitCode,
      evidence,
    });
  }
}
