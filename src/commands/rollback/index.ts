/**
 * `clawdfly rollback [--to <version>]`: plan (image now → then, the local files that change, the
 * remote config) → confirm → back up the state dir → `fly deploy --image <then>` (no rebuild) → put the
 * release's files back → push its gateway config → verify → record the rollback as a release.
 * A pruned image stops the run before anything changes locally.
 */
import { relative } from 'node:path';
import type { CommandContext } from '../types.js';
import type { rollbackSpec } from './spec.js';
import { ClawdflyError, UsageError } from '../../errors.js';
import { quoteWord } from '../../fly/quote.js';
import { currentAndPrevious, deployRefOf, fileChanges, releaseExposure, findRelease, readReleases, releaseConfigText, RELEASES_FILE, type FileChange, type ReleaseHistory, type ReleaseRecord } from '../../release/releases.js';
import { imageRefOf } from '../../deploy/state.js';
import { projectAsRuntime, rollbackToRelease } from '../../release/rollback.js';
import { convergeInterruptedUpgrade } from '../../release/converge.js';
import { flyFor, openProject } from '../../operate/context.js';
import { pickMachine } from '../../operate/machine.js';
import type { Exposure } from '../../project/network.js';
import type { Project } from '../../project/project.js';
import { configsEquivalent, readRemoteConfig } from '../../remote/config-transfer.js';
import { isJsonMode, out, untrusted } from '../../ui/output.js';
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

/** The release to go to: --to, or the one before the current one. Refused (exit 2) when there is none. */
export function chooseTarget(history: ReleaseHistory, to: string | undefined): { current?: ReleaseRecord; target: ReleaseRecord } {
  const { current, previous } = currentAndPrevious(history);
  const known = history.releases.map((r) => `v${r.version}`).join(', ');
  if (to !== undefined) {
    const target = findRelease(history, to);
    if (!target) {
      throw new UsageError(
        `there is no release ${to} in ${RELEASES_FILE}${known ? ` (known: ${known})` : ' (no release recorded yet)'}`,
        known ? `clawdfly rollback --to v${history.releases[0]!.version}  (or see clawdfly status)` : 'clawdfly deploy  (each deploy records a release)',
        'unknown-release',
      );
    }
    return { current, target };
  }
  if (!previous) {
    throw new UsageError(
      current ? `only one release (v${current.version}) is recorded in ${RELEASES_FILE}: there is nothing earlier to go back to` : `no release is recorded in ${RELEASES_FILE} yet`,
      current ? 'deploy a change first; rollback then returns here' : 'clawdfly deploy  (each deploy records a release)',
      'no-previous-release',
    );
  }
  return { current, target: previous };
}

export async function run({ opts }: CommandContext<typeof rollbackSpec>): Promise<number> {
  const timeoutMs = verifyTimeoutMs(opts.verifyTimeout);
  const dryRun = opts.dryRun === true;
  const yes = opts.yes === true;
  const opened = await openProject(opts);
  // An upgrade that stopped half-way: going back to the release before it IS the rollback (unless --to names another).
  const project = await convergeInterruptedUpgrade(opened, () => flyFor(opened, opts), { dryRun, yes, deadlineMs: timeoutMs, rerun: `clawdfly rollback${opts.to ? ` --to ${quoteWord(opts.to)}` : ''} --yes` });
  if (project.resolved && opts.to === undefined) {
    if (isJsonMode()) out.json({ ok: true, app: project.app, interruptedUpgrade: project.resolved.resolution, runtime: project.runtime.id, done: project.resolved.done });
    return 0;
  }
  const history = await readReleases(project.dir, project.app);
  const { current, target } = chooseTarget(history, opts.to);
  // Without a terminal, --yes is the only way to say yes: refused before any flyctl call.
  if (!dryRun && !yes && !canPrompt()) {
    throw new UsageError(`rolling back redeploys ${project.app} and needs confirmation, and there is no terminal to ask on`, `add --yes: clawdfly rollback --to v${target.version} --yes  (or look first: --dry-run)`, 'not-confirmed');
  }
  let changes: FileChange[];
  try {
    changes = await fileChanges(project, target);
  } catch (error) {
    throw new ClawdflyError(error instanceof Error ? error.message : String(error), { hint: `choose another release: clawdfly rollback --to <version>  (see clawdfly status)`, code: 'release-copy-damaged', exitCode: 2 });
  }
  const targetConfig = await releaseConfigText(project, target);

  const fly = flyFor(project, opts);
  const { machine } = await pickMachine(fly);
  const imageNow = imageRefOf(machine);
  // A release of another runtime row (before an upgrade) has its own config file on the state dir.
  const then = projectAsRuntime(project, target.runtime);
  const remoteNow = targetConfig === undefined ? undefined : await readRemoteConfig(fly, then, machine.id);
  const pushConfig = targetConfig !== undefined && (remoteNow === undefined || !configsEquivalent(targetConfig, remoteNow));
  // Back across an upgrade: the old gateway's files it kept on the volume go back in place.
  const stateSnapshot = target.runtime !== project.runtime.id ? (current?.stateSnapshot ?? null) : null;
  // The network mode is the project's as it is now, whatever the release's was.
  const network = { mode: project.exposure, release: await releaseExposure(project, target) };
  const plan = { network, stateSnapshot, app: project.app, machine: machine.id, from: { version: current?.version ?? null, imageRef: imageNow }, to: { version: target.version, imageRef: target.imageRef, image: target.image, deployRef: deployRefOf(target, project.app), runtime: target.runtime }, files: changes.map(({ path, change }) => ({ path, change })), pushConfig };

  if (dryRun || (!yes && !isJsonMode())) printPlan(project, then, plan, changes, dryRun);
  if (dryRun) {
    if (isJsonMode()) out.json({ ok: true, dryRun: true, ...plan });
    return 0;
  }
  const ok = await confirmOrYes(`Roll ${project.app} back to release v${target.version}?`, { yes, defaultValue: false, flagHint: `add --yes: clawdfly rollback --to v${target.version} --yes` });
  if (!ok) throw new UsageError('nothing rolled back', `clawdfly rollback --to v${target.version} --yes`, 'not-confirmed');

  const progress = new Progress();
  const { record, configWritten, backup, verify: verified } = await rollbackToRelease({ project, fly, machine, target, changes, targetConfig, progress, deadlineMs: timeoutMs, stateSnapshot: plan.stateSnapshot ?? undefined });

  if (isJsonMode()) {
    out.json({ ok: true, ...plan, release: record.version, imageRef: record.imageRef, config: configWritten ? 'written' : 'unchanged', backup: backup.file, warnings: verified.warnings });
    return 0;
  }
  for (const w of verified.warnings) out.warn(w);
  out.success(`${project.app} runs release v${target.version}'s image again (recorded as v${record.version})`);
  out.info(`  files: ${changes.length ? changes.map((c) => c.path).join(', ') : 'unchanged'} · config: ${configWritten ? 'pushed' : 'already matched'}`);
  out.info(`  ${project.stateDir} before the rollback: ${shown(backup.file)}  (clawdfly restore ${quoteWord(shown(backup.file))} puts it back)`);
  return 0;
}

function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

interface RollbackPlan {
  app: string;
  machine: string;
  from: { version: string | null; imageRef: string };
  to: { version: string; imageRef: string; image: string; deployRef: string; runtime: string };
  pushConfig: boolean;
  stateSnapshot: string | null;
  network: { mode: Exposure; release: Exposure };
}

function printPlan(project: Project, then: Project, plan: RollbackPlan, changes: FileChange[], dryRun: boolean): void {
  if (isJsonMode()) return;
  out.info(style.bold(`Rollback of ${plan.app} to release v${plan.to.version}${dryRun ? ' — dry run, nothing will be changed' : ''}:`));
  out.info(`  image   ${plan.from.imageRef || '?'}${plan.from.version ? ` (v${plan.from.version})` : ''}`);
  out.info(`       →  ${plan.to.imageRef}  (fly deploy --image ${plan.to.deployRef}${plan.to.deployRef.includes('@sha256:') ? ', by its recorded digest' : ''}; no rebuild)`);
  out.info(`  runtime ${plan.to.runtime === project.runtime.id ? plan.to.runtime : `${project.runtime.id} → ${plan.to.runtime} (${project.runtime.env.gatewayToken} becomes ${then.runtime.env.gatewayToken} again in .clawdfly/secrets.env, same value)`}`);
  out.info(`  network ${plan.network.mode}, kept${plan.network.release === plan.network.mode ? '' : ` (release v${plan.to.version} was made ${plan.network.release}; a rollback never changes the network mode${plan.network.mode === 'private' ? ': making it public again is clawdfly init --no-private, then clawdfly deploy' : ''})`}`);
  out.info(`  backup  ${project.stateDir} into .clawdfly/backups/ first`);
  out.info(`  config  ${plan.pushConfig ? `${then.remoteConfigPath} replaced by release v${plan.to.version}'s (previous kept as a .bak)` : `${then.remoteConfigPath} already matches`}`);
  if (plan.stateSnapshot) out.info(`  state   ${plan.stateSnapshot} (${then.runtime.productName}'s files as they were before the upgrade) back in ${project.stateDir}; ${project.runtime.productName}'s set aside, and removed once ${then.runtime.productName} is verified (the backup keeps them)`);
  if (!changes.length) out.info('  files   unchanged');
  for (const c of changes) {
    const mode = c.mode ? `  (mode ${c.mode.now !== undefined ? `${c.mode.now.toString(8)} → ` : ''}${c.mode.then.toString(8)})` : '';
    out.info(`  file    ${c.change.padEnd(6)} ${c.path}${mode}`);
    const diff = unifiedDiff(c.now ?? '', c.then ?? '', { from: `${c.path} (now)`, to: `${c.path} (v${plan.to.version})` });
    for (const line of diff.split('\n').filter(Boolean).slice(0, 40)) out.info(style.dim(`          ${untrusted(line)}`));
  }
}
