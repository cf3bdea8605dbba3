/**
 * The first thing `upgrade`, `deploy` and `rollback` do: an upgrade that stopped half-way (its
 * journal is still there) is finished or undone (journal.ts), said first and confirmed like the
 * command itself. With --dry-run it is only said.
 */
import { UsageError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import { readReleases } from './releases.js';
import type { Project } from '../project/project.js';
import { isJsonMode, out } from '../ui/output.js';
import { Progress } from '../ui/progress.js';
import { canPrompt, confirmOrYes } from '../ui/prompt.js';
import { InterruptedError, needsInterruptedMessage } from '../util/interrupt.js';
import { announceResolution, readUpgradeJournal, resolveInterruptedUpgrade, type ResolveResult } from './journal.js';

export interface ConvergeOptions {
  dryRun: boolean;
  yes: boolean;
  deadlineMs?: number;
  /** The command again, with --yes (the hint when there is no terminal to confirm on). */
  rerun: string;
}

/** Returns the project as it is afterwards; `resolved` says what was done (undefined: no journal, or a dry run). */
export async function convergeInterruptedUpgrade(project: Project, flyOf: () => FlyClient, opts: ConvergeOptions): Promise<Project & { resolved?: ResolveResult }> {
  const journal = await readUpgradeJournal(project.dir, project.app);
  if (!journal) return project;
  const what = announceResolution(journal, await readReleases(project.dir, project.app));
  if (opts.dryRun) {
    if (!isJsonMode()) out.warn(`${what} (not now: --dry-run)`);
    return project;
  }
  if (!opts.yes && !canPrompt()) throw new UsageError(`${what}; that needs confirmation, and there is no terminal to ask on`, `add --yes: ${opts.rerun}`, 'not-confirmed');
  if (!isJsonMode()) out.warn(what);
  const ok = await confirmOrYes('Do that first?', { yes: opts.yes, defaultValue: true, flagHint: `add --yes: ${opts.rerun}` });
  if (!ok) throw new UsageError('nothing done', opts.rerun, 'not-confirmed');
  let resolved: ResolveResult | undefined;
  try {
    resolved = await resolveInterruptedUpgrade(project, flyOf(), { progress: new Progress(), deadlineMs: opts.deadlineMs });
  } catch (error) {
    if (!needsInterruptedMessage(error) || !(error instanceof InterruptedError)) throw error;
    throw new InterruptedError(`interrupted while returning from the stopped upgrade: its journal stays, and the next run goes on from where this one stopped`, opts.rerun);
  }
  if (!resolved) return project;
  if (!isJsonMode()) out.success(resolved.done);
  return Object.assign(resolved.project, { resolved });
}
