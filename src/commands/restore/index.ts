/**
 * `clawdfly restore <file>`: verify → back up the current state → show the changes → confirm →
 * upload, extract, stage → restart (the boot applies it before the gateway starts) → wait for the
 * gateway → confirm, which drops the replaced state. The logic is
 * src/backup/restore.ts; this file orders the steps and reports them.
 */
import type { CommandContext } from '../types.js';
import type { restoreSpec } from './spec.js';
import { ClawdflyError, UsageError } from '../../errors.js';
import { formatBytes, verifyArchiveFile } from '../../backup/archive.js';
import { APPLY_WITHIN_MS, backupCurrent, changesBetween, checkArchiveFits, confirmRestore, discard, dropPrevious, findSwap, swapTag, unarchivable, uploadAndSwap, type RestoreChanges, type SwapResult } from '../../backup/restore.js';
import type { BackupResult } from '../../backup/backup.js';
import type { VerifiedArchive } from '../../backup/archive.js';
import type { FlyClient } from '../../fly/client.js';
import type { Machine } from '../../fly/json.js';
import type { Project } from '../../project/project.js';
import { holdSignals, InterruptedError, needsInterruptedMessage, wasInterrupted, type SignalGuard } from '../../util/interrupt.js';
import { Verifier } from '../../deploy/verify.js';
import { appUrl } from '../../project/network.js';
import { quoteWord } from '../../fly/quote.js';
import { flyFor, openProject } from '../../operate/context.js';
import { gatewayPortOf, pickMachine } from '../../operate/machine.js';
import { isJsonMode, out, untrusted } from '../../ui/output.js';
import { Progress } from '../../ui/progress.js';
import { canPrompt, confirmOrYes } from '../../ui/prompt.js';
import { relative, resolve } from 'node:path';
import { fetchRemoteCopy, listRemoteCopies } from '../../backup/offsite-remote.js';
import { checkCopyName, hasOffsite } from '../../backup/offsite.js';
import { t } from '../../i18n/index.js';

export async function run({ args, opts }: CommandContext<typeof restoreSpec>): Promise<number> {
  // --from remote[:<name>]: the copy is fetched into a local archive first; from there it is one.
  const file = opts.from !== undefined || args[0] === undefined ? await fetchOffsiteCopy(args[0], opts) : resolve(String(args[0]));
  const verifyTimeout = opts.verifyTimeout;
  if (verifyTimeout !== undefined && (typeof verifyTimeout !== 'number' || !Number.isInteger(verifyTimeout) || verifyTimeout < 10)) {
    throw new UsageError(t('restore.verifyTimeout.bad'), '--verify-timeout 300', 'bad-flag');
  }
  // 1. The archive first: a damaged one stops here, before any flyctl call.
  const archive = await verifyArchiveFile(file);
  const project = await openProject(opts);
  checkArchiveFits(archive, project, { appGiven: typeof opts.app === 'string', force: opts.force === true });
  const m = archive.manifest;
  // Without a terminal, --yes is the only way to say yes: refused before any flyctl call.
  if (opts.yes !== true && !canPrompt()) {
    const flags = opts.safetyBackup === false ? ' --no-safety-backup' : '';
    throw new UsageError(t('restore.refused.noTerminal', { stateDir: project.stateDir, app: project.app }), t('restore.addYes', { command: `clawdfly restore ${quoteWord(shown(file))}${flags} --yes` }), 'not-confirmed');
  }
  if (!isJsonMode()) out.success(t('restore.verified', { file: shown(file), count: archive.files.length, app: m.app, createdAt: m.createdAt }));

  // Ctrl-C is held from here: before the upload is staged (or swapped) it stops the run with nothing
  // changed on the machine, after it the machine is still restarted on the restored state and the
  // restore confirmed (exit 130 either way).
  let swapBegun = false;
  const guard = holdSignals({ firstNotice: 'stopping once the machine runs a consistent state', whenStopped: `clawdfly doctor says what is left on the machine and what to run (a restore staged but never restarted is discarded by a boot 10 minutes later; one swapped in by an image from an older clawdfly needs: clawdfly restart)`, warn: (line) => out.warn(line) });
  try {
    const fly = flyFor(project, opts);
    const { machine } = await pickMachine(fly, { machineId: opts.machine });
    const progress = new Progress();
    // 2. The way back, and what the machine holds now (unless the user says the current state is
    //    itself what is broken: then the replaced files stay only on the volume, in .pre-restore-*).
    const safetyBackup = opts.safetyBackup !== false;
    const current = safetyBackup ? await progress.run('backup', t('restore.progress.backup', { app: project.app }), () => backupCurrent(project, fly, machine)) : undefined;
    const changes = current ? changesBetween(current.manifest, m) : undefined;
    const unrestorable = current ? unarchivable(current.manifest) : [];
    if (!isJsonMode()) {
      if (current && changes) showChanges(project.stateDir, changes, shown(current.file), unrestorable);
      else out.warn(t('restore.noSafetyBackup', { stateDir: project.stateDir }));
    }

    const question = t(current ? 'restore.confirm' : 'restore.confirm.noSafetyBackup', { stateDir: project.stateDir, app: project.app, machine: machine.id });
    const again = `clawdfly restore ${quoteWord(shown(file))}${current ? '' : ' --no-safety-backup'} --yes`;
    const confirmed = await confirmOrYes(question, { yes: opts.yes === true, defaultValue: false, flagHint: t('restore.addYes', { command: again }) });
    if (!confirmed) {
      // nothing was changed, so the copy made for the way back is not needed
      if (current) await discard(current.file);
      throw new UsageError(t('restore.nothingRestored'), again, 'not-confirmed');
    }
    // 3. Upload, extract into a fresh temp dir, verify, swap; 4. restart, verify, drop the replaced state.
    swapBegun = true;
    return await swapAndRestart({ project, fly, machine, file, archive, current, changes, unrestorable, progress, verifyTimeout: opts.verifyTimeout, keepPrevious: opts.keepPrevious === true, guard });
  } catch (error) {
    if (guard.signal && !swapBegun && needsInterruptedMessage(error)) {
      throw new InterruptedError(t('restore.interrupted.beforeBegin', { app: project.app }), startsAgain(file));
    }
    throw error;
  } finally {
    guard.release();
  }
}

interface SwapContext {
  project: Project;
  fly: FlyClient;
  machine: Machine;
  file: string;
  archive: VerifiedArchive;
  /** The safety backup on this computer; none with --no-safety-backup. */
  current: BackupResult | undefined;
  changes: RestoreChanges | undefined;
  unrestorable: { path: string; reason: string; target?: string }[];
  progress: Progress;
  verifyTimeout: unknown;
  keepPrevious: boolean;
  guard: SignalGuard;
}

async function swapAndRestart(ctx: SwapContext): Promise<number> {
  const { project, fly, machine, file, archive, current, progress } = ctx;
  const tag = swapTag();
  let swap: SwapResult;
  try {
    swap = await progress.run('restore', t('restore.progress.restore', { size: formatBytes(archive.bytes), stateDir: project.stateDir, machine: machine.id }), (update) => {
      let sent = 0;
      return uploadAndSwap(project, fly, machine, file, archive, (n) => update(t('restore.progress.sent', { sent: formatBytes((sent += n)), total: formatBytes(archive.bytes) })), tag);
    });
  } catch (error) {
    if (!ctx.guard.signal) throw error;
    // Interrupted: the machine's answer may be lost while its swap went through. Its tag says.
    ctx.guard.beginCleanup();
    const found = await findSwap(project, fly, machine, tag);
    if (!found) {
      throw new InterruptedError(t('restore.interrupted.beforeSwap', { app: project.app, saved: current ? t('restore.interrupted.alsoSaved', { file: shown(current.file) }) : '' }), startsAgain(file));
    }
    const counts = { files: archive.files.length, bytes: archive.files.reduce((n, f) => n + f.size, 0) };
    swap = found.kind === 'live' ? { kind: 'live', preRestore: found.preRestore, ...counts, movedAside: [], problems: [] } : { kind: 'staged', stage: found.stage, ...counts };
  }
  // Staged (or swapped): whatever comes now, the machine restarts on the restored state before the run ends.
  ctx.guard.beginCleanup();
  if (swap.kind === 'staged') return restartStaged(ctx, swap);
  out.warn(t('restore.live.oldImage', { machine: machine.id }));
  if (swap.problems.length) out.warn(t('restore.live.differs', { stateDir: project.stateDir, problems: swap.problems.slice(0, 3).map(untrusted).join('; ') }));
  if (swap.keptInPlace?.length) out.info(`  ${t('restore.live.keptInPlace', { paths: swap.keptInPlace.map(untrusted).join(', ') })}`);
  const previous = `${project.stateDir}/${swap.preRestore}`;
  if (swap.leftAside?.length) out.warn(t('restore.live.leftAside', { paths: swap.leftAside.map(untrusted).join(', '), previous }));

  // 4. Restart on the restored state, and wait until the gateway listens.
  const since = Date.now();
  try {
    await progress.run('restart', t('restore.progress.restart', { machine: machine.id }), () => fly.restartMachine(machine.id));
  } catch (error) {
    throw new ClawdflyError(t('restore.restartFailed.live', { stateDir: project.stateDir, machine: machine.id, error: error instanceof Error ? error.message.split('\n')[0]! : String(error) }), {
      hint: t('restore.restartFailed.liveHint', { command: `fly machine restart ${machine.id} -a ${quoteWord(project.app)}`, where: both(previous, current ? shown(current.file) : '') }),
      code: 'restore-restart-failed',
      exitCode: wasInterrupted() ? 130 : 1,
    });
  }
  let verified;
  try {
    verified = await waitForGateway(ctx, since);
  } catch (error) {
    out.warn(t('restore.keptOnVolume', { previous }));
    throw error;
  }
  for (const w of verified.warnings) out.warn(w);
  let dropped = false;
  // Without a safety backup, the moved-aside state is the only way back: it stays.
  if (!ctx.keepPrevious && current && !swap.leftAside?.length) {
    try {
      await dropPrevious(project, fly, machine, swap.preRestore);
      dropped = true;
    } catch (error) {
      out.warn(t('restore.dropFailed', { previous, error: error instanceof Error ? error.message.slice(0, 120) : String(error) }));
    }
  }
  return report(ctx, { swap, previous, dropped, warnings: verified.warnings, keptInPlace: swap.keptInPlace ?? [], leftAside: swap.leftAside ?? [], appliedAtBoot: false });
}

/** Restart, wait for the gateway, then confirm the restore the boot applied (or report the boot's own revert). */
async function restartStaged(ctx: SwapContext, swap: Extract<SwapResult, { kind: 'staged' }>): Promise<number> {
  const { project, fly, machine, file, current, progress } = ctx;
  const since = Date.now();
  try {
    await progress.run('restart', t('restore.progress.restartStaged', { machine: machine.id }), () => fly.restartMachine(machine.id));
  } catch (error) {
    // Nothing changed yet: take the staged tree back so no later boot applies it unwatched.
    const undone = await confirmRestore(project, fly, machine, 'discard').then((o) => o.state === 'discarded', () => false);
    const after = undone ? t('restore.restartFailed.takenBack', { stateDir: project.stateDir }) : t('restore.restartFailed.staysStaged', { minutes: Math.round(APPLY_WITHIN_MS / 60_000) });
    throw new ClawdflyError(t('restore.restartFailed.staged', { machine: machine.id, error: error instanceof Error ? error.message.split('\n')[0]! : String(error), after }), {
      hint: startsAgain(file),
      code: 'restore-restart-failed',
      exitCode: wasInterrupted() ? 130 : 1,
    });
  }
  let verified;
  try {
    verified = await waitForGateway(ctx, since);
  } catch (error) {
    // Never confirmed: the machine's next boot puts the previous state back by itself.
    const seen = await confirmRestore(project, fly, machine, 'status').catch(() => undefined);
    out.warn(
      seen?.state === 'reverted'
        ? t('restore.notStarted.reverted', { path: `${project.stateDir}/${seen.failedRestore}` })
        : t('restore.notStarted.willRevert', { command: `fly machine restart ${machine.id} -a ${quoteWord(project.app)}` }),
    );
    throw error;
  }
  for (const w of verified.warnings) out.warn(w);
  // Without a safety backup the replaced state is the only way back, and links or special files
  // (no archive holds them) are only there: it stays.
  const keep = ctx.keepPrevious || !current || ctx.unrestorable.length > 0;
  const outcome = await confirmRestore(project, fly, machine, keep ? 'keep' : 'drop');
  if (outcome.state === 'reverted') {
    throw new ClawdflyError(t('restore.reverted'), {
      hint: t('restore.reverted.hint', { path: `${project.stateDir}/${outcome.failedRestore ?? '.failed-restore-*'}` }),
      code: 'restore-reverted',
      exitCode: wasInterrupted() ? 130 : 1,
    });
  }
  if (outcome.state !== 'applied') {
    throw new ClawdflyError(t('restore.notApplied', { machine: machine.id, marker: `${untrusted(outcome.state)}${outcome.error ? `: ${untrusted(outcome.error)}` : ''}` }), {
      hint: t('restore.notApplied.hint', { command: `clawdfly restore ${quoteWord(shown(file))} --yes` }),
      code: 'restore-not-applied',
      exitCode: wasInterrupted() ? 130 : 1,
    });
  }
  const previous = `${project.stateDir}/${outcome.preRestore ?? '.pre-restore-*'}`;
  const leftAside = ctx.unrestorable.map((u) => u.path);
  if (leftAside.length) out.warn(t('restore.notPutBack', { paths: leftAside.map(untrusted).join(', '), previous }));
  return report(ctx, { swap, previous, dropped: outcome.dropped, warnings: verified.warnings, keptInPlace: [], leftAside, appliedAtBoot: true });
}

function waitForGateway(ctx: SwapContext, since: number) {
  const { project, fly, machine, progress } = ctx;
  const verifier = new Verifier(fly, {
    port: gatewayPortOf(machine, project.fly.internalPort),
    url: appUrl(project.app, project.exposure),
    since,
    requireListening: true,
    runtime: project.runtime,
    newApp: false,
    probeUrl: project.exposure !== 'private',
    deadlineMs: typeof ctx.verifyTimeout === 'number' ? ctx.verifyTimeout * 1000 : undefined,
  });
  return progress.run('verify', t('restore.progress.verify'), async () => {
    await verifier.machineStarted();
    return verifier.finish();
  });
}

function report(ctx: SwapContext, r: { swap: SwapResult; previous: string; dropped: boolean; warnings: string[]; keptInPlace: string[]; leftAside: string[]; appliedAtBoot: boolean }): number {
  const { project, machine, file, archive, current, changes } = ctx;
  const m = archive.manifest;
  const { swap, previous, dropped } = r;
  if (ctx.guard.signal) {
    const replacedIn = dropped ? '' : t('restore.interrupted.replacedIn', { previous });
    throw new InterruptedError(t('restore.interrupted.afterSwap', { app: project.app, files: swap.files, replacedIn }), t('restore.replaced', { where: both(current ? shown(current.file) : '', dropped ? '' : previous) }));
  }
  if (isJsonMode()) {
    out.json({
      ok: true,
      file,
      app: project.app,
      machine: machine.id,
      from: { app: m.app, runtime: m.runtime, createdAt: m.createdAt },
      files: swap.files,
      bytes: swap.bytes,
      appliedAtBoot: r.appliedAtBoot,
      changes: changes ? { replaced: changes.replaced, removed: changes.removed, added: changes.added, unchanged: changes.unchanged } : null,
      previousBackup: current?.file ?? null,
      previousOnVolume: dropped ? null : previous,
      notInArchive: ctx.unrestorable,
      keptInPlace: r.keptInPlace,
      leftAside: r.leftAside,
      warnings: r.warnings,
    });
    return 0;
  }
  out.success(t('restore.done', { app: project.app, files: swap.files, size: formatBytes(swap.bytes), atBoot: r.appliedAtBoot ? t('restore.done.atBoot') : '' }));
  out.info(`  ${t('restore.replaced', { where: both(current ? shown(current.file) : '', dropped ? '' : t('restore.onVolume', { path: previous })) })}`);
  return 0;
}

/**
 * `--from remote[:<name>]`: refused like any bad input before a flyctl call (a file as well, another
 * source, a name that is no copy's, no way to confirm), then the copy is decrypted on the machine
 * into a fresh staging folder and streamed into .clawdfly/backups: the archive the rest of restore verifies.
 */
async function fetchOffsiteCopy(fileArg: string | undefined, opts: CommandContext<typeof restoreSpec>['opts']): Promise<string> {
  const from = opts.from;
  if (from === undefined) throw new UsageError(t('restore.from.missing'), t('restore.or', { command: 'clawdfly restore <file>', other: 'clawdfly restore --from remote' }), 'missing-argument');
  if (fileArg !== undefined) throw new UsageError(t('restore.from.both', { file: fileArg, from }), t('restore.or', { command: `clawdfly restore ${quoteWord(fileArg)}`, other: `clawdfly restore --from ${quoteWord(from)}` }), 'bad-flag');
  const m = /^remote(?::(.+))?$/.exec(from);
  if (!m) throw new UsageError(t('restore.from.badSource', { from }), t('restore.from.badSourceHint'), 'bad-flag');
  const name = m[1] !== undefined ? checkCopyName(m[1]) : undefined;
  const project = await openProject(opts);
  if (!hasOffsite(project)) throw new UsageError(t('restore.from.notScheduled', { app: project.app }), t('restore.from.notScheduledHint'), 'not-scheduled');
  if (opts.yes !== true && !canPrompt()) {
    throw new UsageError(t('restore.refused.noTerminal', { stateDir: project.stateDir, app: project.app }), t('restore.addYes', { command: `clawdfly restore --from ${quoteWord(from)} --yes` }), 'not-confirmed');
  }
  const fly = flyFor(project, opts);
  const { machine } = await pickMachine(fly, { machineId: opts.machine });
  const progress = new Progress();
  const chosen = name ?? (await progress.run('list', t('restore.progress.findNewest', { app: project.app }), () => listRemoteCopies(project, fly, machine)))[0]?.name;
  if (chosen === undefined) throw new ClawdflyError(t('restore.from.none', { app: project.app }), { hint: t('restore.from.noneHint'), code: 'no-offsite-copy', exitCode: 2 });
  const file = await progress.run('fetch', t('restore.progress.fetch', { name: untrusted(chosen), machine: machine.id }), (update) => {
    let received = 0;
    return fetchRemoteCopy(project, fly, machine, chosen, (n) => update(t('restore.progress.received', { size: formatBytes((received += n)) })));
  });
  if (!isJsonMode()) out.info(`  ${untrusted(chosen)} → ${shown(file)}`);
  return file;
}

/** The hint of an interrupted or failed run: the same restore again. */
function startsAgain(file: string): string {
  return t('restore.startsAgain', { command: `clawdfly restore ${quoteWord(shown(file))} --yes` });
}

/** One or two places (an empty one is left out), joined as the language joins them. */
function both(first: string, second: string): string {
  return first && second ? t('restore.and', { first, second }) : first || second;
}

function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

function showChanges(stateDir: string, c: RestoreChanges, saved: string, unrestorable: { path: string; reason: string; target?: string }[]): void {
  out.info(t('restore.plan.changes', { stateDir, replaced: c.replaced.length, removed: c.removed.length, added: c.added.length, unchanged: c.unchanged }));
  const list = (mark: string, paths: string[]) => {
    for (const p of paths.slice(0, 15)) out.info(`  ${mark} ${untrusted(p)}`); // names from the archive and the volume
    if (paths.length > 15) out.info(`  ${mark} ${t('restore.plan.more', { count: paths.length - 15 })}`);
  };
  list('~', c.replaced);
  list('-', c.removed);
  list('+', c.added);
  if (unrestorable.length) {
    // No archive holds links or special files (backup skips them). A machine that applies the restore
    // at boot sets them aside with the current state (.pre-restore-*, then kept); one whose image is
    // from an older clawdfly swaps live and puts them back in place. Either way they stay on the volume.
    out.info(t('restore.plan.links', { count: unrestorable.length, stateDir }));
    list('=', unrestorable.map((u) => `${u.path} (${u.reason}${u.target !== undefined ? ` → ${u.target}` : ''})`));
  }
  out.info(`  ${t('restore.plan.saved', { file: saved, links: unrestorable.length ? t('restore.plan.savedLinks') : '' })}`);
}
