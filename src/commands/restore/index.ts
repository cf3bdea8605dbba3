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

export async function run({ args, opts }: CommandContext<typeof restoreSpec>): Promise<number> {
  // --from remote[:<name>]: the copy is fetched into a local archive first; from there it is one.
  const file = opts.from !== undefined || args[0] === undefined ? await fetchOffsiteCopy(args[0], opts) : resolve(String(args[0]));
  const verifyTimeout = opts.verifyTimeout;
  if (verifyTimeout !== undefined && (typeof verifyTimeout !== 'number' || !Number.isInteger(verifyTimeout) || verifyTimeout < 10)) {
    throw new UsageError('--verify-timeout takes a whole number of seconds, at least 10', '--verify-timeout 300', 'bad-flag');
  }
  // 1. The archive first: a damaged one stops here, before any flyctl call.
  const archive = await verifyArchiveFile(file);
  const project = await openProject(opts);
  checkArchiveFits(archive, project, { appGiven: typeof opts.app === 'string', force: opts.force === true });
  const m = archive.manifest;
  // Without a terminal, --yes is the only way to say yes: refused before any flyctl call.
  if (opts.yes !== true && !canPrompt()) {
    const flags = opts.safetyBackup === false ? ' --no-safety-backup' : '';
    throw new UsageError(`restoring replaces ${project.stateDir} on ${project.app} and needs confirmation, and there is no terminal to ask on`, `add --yes: clawdfly restore ${quoteWord(shown(file))}${flags} --yes`, 'not-confirmed');
  }
  if (!isJsonMode()) out.success(`${shown(file)}: ${archive.files.length} files of ${m.app} from ${m.createdAt}, verified against its manifest`);

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
    const current = safetyBackup ? await progress.run('backup', `Saving the current state of ${project.app} first`, () => backupCurrent(project, fly, machine)) : undefined;
    const changes = current ? changesBetween(current.manifest, m) : undefined;
    const unrestorable = current ? unarchivable(current.manifest) : [];
    if (!isJsonMode()) {
      if (current && changes) showChanges(project.stateDir, changes, shown(current.file), unrestorable);
      else out.warn(`--no-safety-backup: the current ${project.stateDir} is not saved here first; what it holds is moved aside on the volume and kept there (${project.stateDir}/.pre-restore-*)`);
    }

    const question = current
      ? `Replace ${project.stateDir} on ${project.app} (machine ${machine.id}) with this archive and restart the machine?`
      : `Replace ${project.stateDir} on ${project.app} (machine ${machine.id}) with this archive, WITHOUT a copy of the current state on this computer, and restart the machine?`;
    const again = `clawdfly restore ${quoteWord(shown(file))}${current ? '' : ' --no-safety-backup'} --yes`;
    const confirmed = await confirmOrYes(question, { yes: opts.yes === true, defaultValue: false, flagHint: `add --yes: ${again}` });
    if (!confirmed) {
      // nothing was changed, so the copy made for the way back is not needed
      if (current) await discard(current.file);
      throw new UsageError('nothing restored', again, 'not-confirmed');
    }
    // 3. Upload, extract into a fresh temp dir, verify, swap; 4. restart, verify, drop the replaced state.
    swapBegun = true;
    return await swapAndRestart({ project, fly, machine, file, archive, current, changes, unrestorable, progress, verifyTimeout: opts.verifyTimeout, keepPrevious: opts.keepPrevious === true, guard });
  } catch (error) {
    if (guard.signal && !swapBegun && needsInterruptedMessage(error)) {
      throw new InterruptedError(`interrupted before the restore began: nothing on ${project.app} was changed`, `clawdfly restore ${quoteWord(shown(file))} --yes  (starts again)`);
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
    swap = await progress.run('restore', `Restoring ${formatBytes(archive.bytes)} to ${project.stateDir} on ${machine.id}`, (update) => {
      let sent = 0;
      return uploadAndSwap(project, fly, machine, file, archive, (n) => update(`${formatBytes((sent += n))} of ${formatBytes(archive.bytes)} sent`), tag);
    });
  } catch (error) {
    if (!ctx.guard.signal) throw error;
    // Interrupted: the machine's answer may be lost while its swap went through. Its tag says.
    ctx.guard.beginCleanup();
    const found = await findSwap(project, fly, machine, tag);
    if (!found) {
      throw new InterruptedError(`interrupted before the swap: nothing on ${project.app} was changed${current ? ` (the state it has is also saved in ${shown(current.file)})` : ''}`, `clawdfly restore ${quoteWord(shown(file))} --yes  (starts again)`);
    }
    const counts = { files: archive.files.length, bytes: archive.files.reduce((n, f) => n + f.size, 0) };
    swap = found.kind === 'live' ? { kind: 'live', preRestore: found.preRestore, ...counts, movedAside: [], problems: [] } : { kind: 'staged', stage: found.stage, ...counts };
  }
  // Staged (or swapped): whatever comes now, the machine restarts on the restored state before the run ends.
  ctx.guard.beginCleanup();
  if (swap.kind === 'staged') return restartStaged(ctx, swap);
  out.warn(`machine ${machine.id} runs an image that cannot apply a restore before its gateway starts (made by an older clawdfly): swapped while the gateway runs. clawdfly deploy updates it.`);
  if (swap.problems.length) out.warn(`after the swap, ${project.stateDir} differs from the archive (the gateway wrote in between): ${swap.problems.slice(0, 3).map(untrusted).join('; ')}`);
  if (swap.keptInPlace?.length) out.info(`  kept in place (no archive holds links or special files): ${swap.keptInPlace.map(untrusted).join(', ')}`);
  const previous = `${project.stateDir}/${swap.preRestore}`;
  if (swap.leftAside?.length) out.warn(`not put back (the restored state has no folder for them): ${swap.leftAside.map(untrusted).join(', ')}; they stay in ${previous}`);

  // 4. Restart on the restored state, and wait until the gateway listens.
  const since = Date.now();
  try {
    await progress.run('restart', `Restarting machine ${machine.id}`, () => fly.restartMachine(machine.id));
  } catch (error) {
    throw new ClawdflyError(`${project.stateDir} was restored, but restarting machine ${machine.id} failed: the gateway still runs on the state it had loaded (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`, {
      hint: `fly machine restart ${machine.id} -a ${quoteWord(project.app)}  (the replaced state is in ${previous}${current ? ` and ${shown(current.file)}` : ''})`,
      code: 'restore-restart-failed',
      exitCode: wasInterrupted() ? 130 : 1,
    });
  }
  let verified;
  try {
    verified = await waitForGateway(ctx, since);
  } catch (error) {
    out.warn(`the replaced state is kept on the volume: ${previous}`);
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
      out.warn(`could not remove ${previous} (${error instanceof Error ? error.message.slice(0, 120) : String(error)}); clawdfly doctor --fix removes it once you are satisfied`);
    }
  }
  return report(ctx, { swap, previous, dropped, warnings: verified.warnings, keptInPlace: swap.keptInPlace ?? [], leftAside: swap.leftAside ?? [], appliedAtBoot: false });
}

/** Restart, wait for the gateway, then confirm the restore the boot applied (or report the boot's own revert). */
async function restartStaged(ctx: SwapContext, swap: Extract<SwapResult, { kind: 'staged' }>): Promise<number> {
  const { project, fly, machine, file, current, progress } = ctx;
  const since = Date.now();
  try {
    await progress.run('restart', `Restarting machine ${machine.id} (its boot applies the restore before the gateway starts)`, () => fly.restartMachine(machine.id));
  } catch (error) {
    // Nothing changed yet: take the staged tree back so no later boot applies it unwatched.
    const undone = await confirmRestore(project, fly, machine, 'discard').then((o) => o.state === 'discarded', () => false);
    throw new ClawdflyError(`restarting machine ${machine.id} failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)}): ${undone ? `the restore was taken back, ${project.stateDir} is unchanged` : `the restore stays staged; a boot within ${Math.round(APPLY_WITHIN_MS / 60_000)} minutes applies it, a later one discards it`}`, {
      hint: `clawdfly restore ${quoteWord(shown(file))} --yes  (starts again)`,
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
        ? `the gateway did not start on the restored state: the machine put the previous state back by itself (the restored tree is kept in ${project.stateDir}/${seen.failedRestore})`
        : `the gateway did not start on the restored state: the machine puts the previous state back by itself at its next boot (a crashed gateway restarts it; or: fly machine restart ${machine.id} -a ${quoteWord(project.app)})`,
    );
    throw error;
  }
  for (const w of verified.warnings) out.warn(w);
  // Without a safety backup the replaced state is the only way back, and links or special files
  // (no archive holds them) are only there: it stays.
  const keep = ctx.keepPrevious || !current || ctx.unrestorable.length > 0;
  const outcome = await confirmRestore(project, fly, machine, keep ? 'keep' : 'drop');
  if (outcome.state === 'reverted') {
    throw new ClawdflyError('the gateway did not start on the restored state: the machine put the previous state back by itself, and runs on it', {
      hint: `clawdfly logs  (why the restored state did not start; it is kept in ${project.stateDir}/${outcome.failedRestore ?? '.failed-restore-*'})`,
      code: 'restore-reverted',
      exitCode: wasInterrupted() ? 130 : 1,
    });
  }
  if (outcome.state !== 'applied') {
    throw new ClawdflyError(`machine ${machine.id} booted without applying the restore (its marker says ${untrusted(outcome.state)}${outcome.error ? `: ${untrusted(outcome.error)}` : ''})`, {
      hint: `clawdfly logs  (look for [clawdfly] lines at boot), then: clawdfly restore ${quoteWord(shown(file))} --yes`,
      code: 'restore-not-applied',
      exitCode: wasInterrupted() ? 130 : 1,
    });
  }
  const previous = `${project.stateDir}/${outcome.preRestore ?? '.pre-restore-*'}`;
  const leftAside = ctx.unrestorable.map((u) => u.path);
  if (leftAside.length) out.warn(`not put back (no archive holds links or special files): ${leftAside.join(', ')}; they stay in ${previous}`);
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
  return progress.run('verify', 'Waiting for the gateway on the restored state', async () => {
    await verifier.machineStarted();
    return verifier.finish();
  });
}

function report(ctx: SwapContext, r: { swap: SwapResult; previous: string; dropped: boolean; warnings: string[]; keptInPlace: string[]; leftAside: string[]; appliedAtBoot: boolean }): number {
  const { project, machine, file, archive, current, changes } = ctx;
  const m = archive.manifest;
  const { swap, previous, dropped } = r;
  if (ctx.guard.signal) {
    throw new InterruptedError(`interrupted after the swap: ${project.app} was restarted and runs on the restored state (${swap.files} files)${dropped ? '' : `; the replaced state is in ${previous}`}`, `the state it replaced: ${[current ? shown(current.file) : '', dropped ? '' : previous].filter(Boolean).join(' and ')}`);
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
  out.success(`${project.app} runs on the restored state (${swap.files} files, ${formatBytes(swap.bytes)}${r.appliedAtBoot ? ', applied before the gateway started' : ''})`);
  out.info(`  the state it replaced: ${[current ? shown(current.file) : '', dropped ? '' : `${previous} on the volume`].filter(Boolean).join(' and ')}`);
  return 0;
}

/**
 * `--from remote[:<name>]`: refused like any bad input before a flyctl call (a file as well, another
 * source, a name that is no copy's, no way to confirm), then the copy is decrypted on the machine
 * into a fresh staging folder and streamed into .clawdfly/backups: the archive the rest of restore verifies.
 */
async function fetchOffsiteCopy(fileArg: string | undefined, opts: CommandContext<typeof restoreSpec>['opts']): Promise<string> {
  const from = opts.from;
  if (from === undefined) throw new UsageError('restore what? name an archive, or an off-site copy', 'clawdfly restore <file>  (or: clawdfly restore --from remote)', 'missing-argument');
  if (fileArg !== undefined) throw new UsageError(`restore either ${fileArg} or --from ${from}, not both`, `clawdfly restore ${quoteWord(fileArg)}  (or: clawdfly restore --from ${quoteWord(from)})`, 'bad-flag');
  const m = /^remote(?::(.+))?$/.exec(from);
  if (!m) throw new UsageError(`--from ${from}: the only source is remote (the app's off-site copies)`, 'clawdfly restore --from remote  (the newest; or remote:<name> from clawdfly backup list --remote)', 'bad-flag');
  const name = m[1] !== undefined ? checkCopyName(m[1]) : undefined;
  const project = await openProject(opts);
  if (!hasOffsite(project)) throw new UsageError(`${project.app} has no off-site copies: fly.toml schedules none and .clawdfly/secrets.env names no bucket`, 'clawdfly restore <file>  (a local archive), or first: clawdfly backup schedule --every 1h', 'not-scheduled');
  if (opts.yes !== true && !canPrompt()) {
    throw new UsageError(`restoring replaces ${project.stateDir} on ${project.app} and needs confirmation, and there is no terminal to ask on`, `add --yes: clawdfly restore --from ${quoteWord(from)} --yes`, 'not-confirmed');
  }
  const fly = flyFor(project, opts);
  const { machine } = await pickMachine(fly, { machineId: opts.machine });
  const progress = new Progress();
  const chosen = name ?? (await progress.run('list', `Finding the newest off-site copy of ${project.app}`, () => listRemoteCopies(project, fly, machine)))[0]?.name;
  if (chosen === undefined) throw new ClawdflyError(`${project.app}'s bucket holds no off-site copy yet`, { hint: 'clawdfly doctor  (the uploader\'s last upload and error)', code: 'no-offsite-copy', exitCode: 2 });
  const file = await progress.run('fetch', `Fetching and decrypting ${untrusted(chosen)} on machine ${machine.id}`, (update) => {
    let received = 0;
    return fetchRemoteCopy(project, fly, machine, chosen, (n) => update(`${formatBytes((received += n))} received`));
  });
  if (!isJsonMode()) out.info(`  ${untrusted(chosen)} → ${shown(file)}`);
  return file;
}

function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

function showChanges(stateDir: string, c: RestoreChanges, saved: string, unrestorable: { path: string; reason: string; target?: string }[]): void {
  out.info(`This restore changes ${stateDir}: ${c.replaced.length} replaced, ${c.removed.length} removed, ${c.added.length} added, ${c.unchanged} unchanged`);
  const list = (mark: string, paths: string[]) => {
    for (const p of paths.slice(0, 15)) out.info(`  ${mark} ${untrusted(p)}`); // names from the archive and the volume
    if (paths.length > 15) out.info(`  ${mark} … ${paths.length - 15} more`);
  };
  list('~', c.replaced);
  list('-', c.removed);
  list('+', c.added);
  if (unrestorable.length) {
    // No archive holds links or special files (backup skips them). A machine that applies the restore
    // at boot sets them aside with the current state (.pre-restore-*, then kept); one whose image is
    // from an older clawdfly swaps live and puts them back in place. Either way they stay on the volume.
    out.info(`Not in any archive, never followed or recreated: ${unrestorable.length} link(s) or special file(s); they stay on the volume (in ${stateDir}/.pre-restore-* when the machine applies the restore at boot)`);
    list('=', unrestorable.map((u) => `${u.path} (${u.reason}${u.target !== undefined ? ` → ${u.target}` : ''})`));
  }
  out.info(`  (the current state is saved in ${saved} before anything changes${unrestorable.length ? '; its manifest names the links above and their targets' : ''})`);
}
