/**
 * `clawdfly config push`: validate locally → read remote → diff → confirm → atomic upload with a
 * backup → watch the gateway's reload verdict → restore on rejection, restart only when needed.
 */
import { ClawdflyError } from '../../errors.js';
import { checkConfigText, formatProblem } from '../../gateway/config-file.js';
import { configsEquivalent, DEFAULT_KEEP_BACKUPS, pushConfigFile, readRemoteConfig, restoreBackup, type PushResult } from '../../remote/config-transfer.js';
import { reloadMode, waitForReload, type ReloadReaction } from '../../remote/config-apply.js';
import { parseConfigText } from '../../gateway/config-file.js';
import { isJsonMode, out, untrusted } from '../../ui/output.js';
import { Progress } from '../../ui/progress.js';
import { confirmOrYes } from '../../ui/prompt.js';
import { style } from '../../ui/style.js';
import { UsageError } from '../../errors.js';
import type { CommandContext } from '../types.js';
import type { configPushSpec } from './spec.js';
import { connect, localConfigText, localLabel, openProject, printDiff, semanticDiff } from './shared.js';

const DEFAULT_WAIT_SECONDS = 30;

function intOption(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new UsageError(`${name} must be a whole number ≥ ${min}`, `${name} ${fallback}`, 'bad-flag');
  }
  return value;
}

export async function run({ opts }: CommandContext<typeof configPushSpec>): Promise<number> {
  const yes = opts.yes === true;
  const restartFlag = opts.restart; // true: --restart, false: --no-restart
  const waitMs = intOption(opts.wait, '--wait', DEFAULT_WAIT_SECONDS, 0) * 1000;
  const keepBackups = intOption(opts.keepBackups, '--keep-backups', DEFAULT_KEEP_BACKUPS, 1);

  // 1. local: an invalid file is never sent
  const project = await openProject(opts);
  const localText = localConfigText(project);
  const label = localLabel(project);
  const check = checkConfigText(localText, project.runtime);
  if (!check.ok) {
    throw new ClawdflyError(`${label} is not valid; nothing was sent`, {
      exitCode: 2,
      code: 'config-invalid',
      hint: `fix it, then: clawdfly config validate --dir ${project.dir}`,
      evidence: check.problems.map((p) => formatProblem(p, label)),
    });
  }

  // 2. remote: read, compare, show
  const { fly, machine } = await connect(opts, project);
  const target = `${project.remoteConfigPath} on ${machine.id}`;
  const remoteText = await readRemoteConfig(fly, project, machine.id);
  if (remoteText !== undefined && configsEquivalent(localText, remoteText)) {
    if (isJsonMode()) out.json({ ok: true, machine: machine.id, path: project.remoteConfigPath, changed: false });
    else out.success(`already in sync: ${label} = ${target} (nothing written)`);
    return 0;
  }
  const diff = semanticDiff(remoteText, localText, { from: `${machine.id}:${project.remoteConfigPath}`, to: label });
  if (!isJsonMode()) {
    if (remoteText === undefined) out.info(`${target} does not exist yet; it will be created.`);
    printDiff(diff);
    if (check.json5) out.info(style.dim('  (local file is JSON5; it is sent as is, the gateway reads JSON5)'));
  }
  if (!(await confirmOrYes(`Write ${label} to ${target}?`, { yes, flagHint: 'add --yes' }))) {
    out.warn('cancelled; nothing was written');
    return 1;
  }

  // 3. transfer
  const progress = new Progress();
  const sinceMs = Date.now() - 2_000; // allow a little clock skew between us and the log timestamps
  const pushed: PushResult = await progress.run('upload', `Uploading to ${target}`, () => pushConfigFile(fly, project, machine.id, localText, { keepBackups }));
  if (!isJsonMode()) out.info(style.dim(`  ${pushed.bytes} bytes, sha256 ${pushed.sha256.slice(0, 12)}…, mode 0600${pushed.backupPath ? `; previous file kept as ${pushed.backupPath}` : ''}`));

  // 4. apply
  const modes = [reloadMode(check.value), remoteText !== undefined ? reloadModeOf(remoteText) : 'hybrid'];
  const reloadOff = modes.includes('off');
  let reaction: ReloadReaction = { kind: 'none', lines: [] };
  if (!reloadOff && waitMs > 0) {
    reaction = await progress.run('reload', `Waiting for the gateway to reload (up to ${waitMs / 1000} s)`, (update) =>
      waitForReload(fly, machine.id, { sinceMs, waitMs, onPoll: (ms) => update(`${Math.round(ms / 1000)} s`) }),
    );
  }

  if (reaction.kind === 'rejected') {
    await progress.run('restore', 'Gateway rejected the file: restoring the previous one', () => restoreBackup(fly, project, machine.id, pushed.backupPath));
    throw new ClawdflyError(
      `the gateway rejected the new config (it keeps running the previous one); ${pushed.backupPath ? `restored ${pushed.backupPath}` : `moved the rejected file aside`} so the next boot still works`,
      { code: 'config-rejected', hint: `fix ${label} (the gateway's own words are above), then clawdfly config push`, evidence: reaction.lines },
    );
  }

  let restarted = false;
  let restartReason: string | undefined;
  if (restartFlag === true) restartReason = '--restart';
  else if (reaction.kind === 'none' && restartFlag !== false) restartReason = reloadOff ? 'gateway.reload.mode is off' : `no reload logged within ${waitMs / 1000} s`;
  if (restartReason) {
    await progress.run('restart', `Restarting ${machine.id} (${restartReason})`, () => fly.restartMachine(machine.id));
    restarted = true;
  }

  if (isJsonMode()) {
    out.json({
      ok: true, machine: machine.id, path: project.remoteConfigPath, changed: true, sha256: pushed.sha256, bytes: pushed.bytes,
      backup: pushed.backupPath ?? null, reload: reaction.kind, gatewayLines: reaction.lines, restarted,
    });
    return 0;
  }
  for (const line of reaction.lines) out.info(style.dim(`  gateway: ${untrusted(line)}`));
  if (reaction.kind === 'applied') out.success('the gateway hot-reloaded the new config');
  else if (reaction.kind === 'restart') out.success('the gateway is restarting itself to apply the change (in-process; the machine stays up)');
  if (restarted) out.success(`machine ${machine.id} restarted with the new config`);
  else if (reaction.kind === 'none') out.warn(`the gateway did not log a reload and the machine was not restarted (--no-restart): the change applies at the next restart (fly machine restart ${machine.id} -a ${fly.app})`);
  return 0;
}

function reloadModeOf(text: string): string {
  try {
    return reloadMode(parseConfigText(text).value);
  } catch {
    return 'hybrid';
  }
}
