/**
 * The upgrade journal: `.clawdfly/journal/upgrade.json` (0600, in a folder that git-ignores itself),
 * written before an upgrade changes anything and removed once it finished or was undone. A journal
 * still there means the run stopped half-way (a second Ctrl-C, a kill, a crash, a failed way back):
 * the next `upgrade`, `deploy` or `rollback` converges first (`resolveInterruptedUpgrade`), and
 * `status` and `doctor` say what to run (`describeInterruptedUpgrade`).
 *
 * Converging means one of two things, decided from the journal, the release history and the image
 * the machine runs:
 *   - the upgrade's release was recorded: it had finished, only the journal is left → removed;
 *   - otherwise the project returns to the release that ran before: its local files (and the gateway
 *     token's name), and when the new image reached the machine, rollback's own path (the old image,
 *     the old gateway's files from the snapshot on the volume, its config). A snapshot that no
 *     release needs is removed from the volume.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { ClawdflyError, isClawdflyError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import type { Machine } from '../fly/json.js';
import { findRuntime } from '../gateway/runtime.js';
import { pickMachine } from '../operate/machine.js';
import { PROJECT_FILES } from '../project/paths.js';
import { loadProject, type Project } from '../project/project.js';
import { readSecrets, renameGatewayToken, writeSecrets } from '../project/secrets.js';
import type { Progress } from '../ui/progress.js';
import { readTextIfExists, writeFileAtomic } from '../util/fs.js';
import { fileChanges, findRelease, readReleases, releaseConfigText, restoreFiles, type ReleaseHistory, type ReleaseRecord } from './releases.js';
import { DEPLOY_STATE_FILE, imageRefOf } from '../deploy/state.js';

export const JOURNAL_DIR = `${PROJECT_FILES.stateDir}/journal`;
export const UPGRADE_JOURNAL = `${JOURNAL_DIR}/upgrade.json`;

export interface UpgradeJournal {
  version: 1;
  app: string;
  /** Runtime row ids. */
  from: string;
  to: string;
  /** How far it got: backup (nothing changed yet) → snapshot (old files being copied on the volume) → local (project files rewritten, deploying). */
  stage: 'backup' | 'snapshot' | 'local';
  /** The release to return to, and the image it runs. */
  before?: string;
  beforeImage?: string;
  /** The old gateway's files kept on the volume. */
  snapshot?: string;
  /** Project-relative path of the backup taken first. */
  backup?: string;
  /** .clawdfly/state.json as it was (the deploy's record of what runs), put back with the files. */
  deployState?: string | null;
  startedAt: string;
}

export async function readUpgradeJournal(dir: string, app: string): Promise<UpgradeJournal | undefined> {
  const text = await readTextIfExists(join(dir, UPGRADE_JOURNAL));
  if (text === undefined) return undefined;
  try {
    const j = JSON.parse(text) as UpgradeJournal;
    if (j.version === 1 && j.app === app && typeof j.from === 'string' && typeof j.to === 'string') return j;
  } catch {
    // unreadable: said below
  }
  throw new ClawdflyError(`${UPGRADE_JOURNAL} is not an upgrade journal clawdfly can read`, { hint: `look at it; remove it once ${app} runs what the project says (clawdfly status)`, code: 'journal-unreadable' });
}

/** The journal of the run in progress: each step is on disk before the change it names. */
export class JournalWriter {
  private constructor(
    private readonly dir: string,
    readonly entry: UpgradeJournal,
  ) {}

  static async begin(project: Project, from: string, to: string): Promise<JournalWriter> {
    const root = join(project.dir, JOURNAL_DIR);
    await mkdir(root, { recursive: true, mode: 0o700 });
    await writeFile(join(root, '.gitignore'), '# clawdfly run journals: local to this clone\n*\n', { flag: 'wx', mode: 0o644 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const deployState = (await readTextIfExists(join(project.dir, DEPLOY_STATE_FILE))) ?? null;
    const writer = new JournalWriter(project.dir, { version: 1, app: project.app, from, to, stage: 'backup', deployState, startedAt: new Date().toISOString() });
    await writer.save();
    return writer;
  }

  async update(fields: Partial<UpgradeJournal>): Promise<void> {
    Object.assign(this.entry, fields);
    await this.save();
  }

  async clear(): Promise<void> {
    await rm(join(this.dir, UPGRADE_JOURNAL), { force: true });
  }

  private save(): Promise<void> {
    return writeFileAtomic(join(this.dir, UPGRADE_JOURNAL), JSON.stringify(this.entry, null, 2) + '\n', 0o600);
  }
}

export function backupKey(project: Project, file: string): string {
  return relative(project.dir, file).split(sep).join('/');
}

/** The upgrade's own release, recorded: it had finished. */
function finishedRelease(history: ReleaseHistory, j: UpgradeJournal): ReleaseRecord | undefined {
  const last = history.releases.at(-1);
  return last && last.kind === 'upgrade' && last.runtime === j.to && last.upgradedFrom === j.from && (j.snapshot === undefined || last.stateSnapshot === j.snapshot) ? last : undefined;
}

export type Resolution = { kind: 'finished'; release: ReleaseRecord } | { kind: 'nothing-changed' } | { kind: 'return'; release: ReleaseRecord };

export function planResolution(j: UpgradeJournal, history: ReleaseHistory): Resolution {
  const done = finishedRelease(history, j);
  if (done) return { kind: 'finished', release: done };
  if (!j.before) return { kind: 'nothing-changed' };
  const release = findRelease(history, j.before);
  if (!release) {
    throw new ClawdflyError(`an upgrade from ${j.from} to ${j.to} was interrupted, and release v${j.before} it would return to is no longer in the release history`, {
      hint: `clawdfly restore ${j.backup ?? '<the backup taken before the upgrade>'}  (the state before it), then clawdfly deploy`,
      code: 'journal-release-missing',
    });
  }
  return { kind: 'return', release };
}

/** One sentence for status and doctor: what happened, and what the next run does about it. */
export function describeInterruptedUpgrade(j: UpgradeJournal, history: ReleaseHistory): { summary: string; next: string } {
  const r = planResolution(j, history);
  const summary = `an upgrade from ${j.from} to ${j.to} (started ${j.startedAt}) was interrupted`;
  if (r.kind === 'finished') return { summary: `${summary} after it had finished (release v${r.release.version})`, next: `clawdfly upgrade, deploy or rollback removes the leftover journal (${UPGRADE_JOURNAL})` };
  if (r.kind === 'nothing-changed') return { summary: `${summary} before it changed anything`, next: `clawdfly upgrade --to ${j.to}  (starts it again) or clawdfly deploy` };
  return {
    summary: `${summary}; the local files may be ${j.to}'s while the machine runs ${j.from}`,
    next: `clawdfly upgrade --to ${j.to}  (returns to release v${r.release.version}, ${j.from}, then upgrades again), or clawdfly rollback  (returns to v${r.release.version} and stops)`,
  };
}

/** What resolveInterruptedUpgrade will do, said before it does it. */
export function announceResolution(j: UpgradeJournal, history: ReleaseHistory): string {
  const r = planResolution(j, history);
  if (r.kind === 'finished') return `the upgrade from ${j.from} to ${j.to} had finished (release v${r.release.version}) before it was interrupted: only its journal is removed`;
  if (r.kind === 'nothing-changed') return `an upgrade from ${j.from} to ${j.to} was interrupted before it changed anything: its journal is removed`;
  return `an upgrade from ${j.from} to ${j.to} was interrupted: first, back to release v${r.release.version} (${j.from}): its local files, and its image, config and files on the volume if the new image was deployed`;
}

export interface ResolveResult {
  /** The project as it is afterwards (reloaded). */
  project: Project;
  resolution: Resolution['kind'];
  /** What was done, one sentence. */
  done: string;
}

/** Finishes or undoes an interrupted upgrade (see the file's comment). No journal: undefined. */
export async function resolveInterruptedUpgrade(project: Project, fly: FlyClient, opts: { progress: Progress; deadlineMs?: number }): Promise<ResolveResult | undefined> {
  const j = await readUpgradeJournal(project.dir, project.app);
  if (!j) return undefined;
  const history = await readReleases(project.dir, project.app);
  const r = planResolution(j, history);
  const clear = () => rm(join(project.dir, UPGRADE_JOURNAL), { force: true });
  if (r.kind !== 'return') {
    await clear();
    return { project, resolution: r.kind, done: r.kind === 'finished' ? `the upgrade to ${j.to} had finished (release v${r.release.version}); its journal was removed` : `the interrupted upgrade to ${j.to} had changed nothing; its journal was removed` };
  }
  const before = r.release;
  const { machine } = await pickMachine(fly, { started: false });
  // The project as the new runtime names things (its config file is the one to remove), whatever answers.json says by now.
  // The way back loads only when there is an interrupted upgrade to resolve (doctor and status only read the journal).
  const { projectAsRuntime } = await import('./rollback.js');
  const now = projectAsRuntime(await loadProject(project.dir, { app: project.app }), j.to);
  if (j.beforeImage !== undefined && imageRefOf(machine) === j.beforeImage) {
    await opts.progress.run('state', `put the local files of release v${before.version} (${j.from}) back`, async () => {
      await restoreFiles(now, before, await checkedChanges(now, before));
      await putTokenNameBack(project.dir, j);
      if (j.deployState !== undefined) await restoreDeployState(project.dir, j.deployState);
      if (j.snapshot) await (await import('./state-snapshot.js')).dropSnapshot(fly, project.stateDir, machine.id, j.snapshot);
    });
    await clear();
    return { project: await loadProject(project.dir, { app: project.app }), resolution: 'return', done: `back to release v${before.version}: ${project.app} still ran ${j.from}, and the local files are ${j.from}'s again` };
  }
  await returnAcrossUpgrade(now, fly, machine, before, j, opts);
  await clear();
  return { project: await loadProject(project.dir, { app: project.app }), resolution: 'return', done: `back to release v${before.version}: ${project.app} runs ${j.from} again (its image, files, config and the files kept on ${project.stateDir})` };
}

async function checkedChanges(project: Project, before: ReleaseRecord) {
  try {
    return await fileChanges(project, before);
  } catch (error) {
    throw new ClawdflyError(error instanceof Error ? error.message : String(error), { hint: `the files of release v${before.version} are in .clawdfly/releases/${before.version}/`, code: 'release-copy-damaged' });
  }
}

async function putTokenNameBack(dir: string, j: UpgradeJournal): Promise<void> {
  const from = findRuntime(j.from);
  const to = findRuntime(j.to);
  if (!from || !to) return;
  await writeSecrets(dir, renameGatewayToken(await readSecrets(dir), to.env.gatewayToken, from.env.gatewayToken));
}

export async function restoreDeployState(dir: string, text: string | null): Promise<void> {
  if (text === null) await rm(join(dir, DEPLOY_STATE_FILE), { force: true });
  else await writeFileAtomic(join(dir, DEPLOY_STATE_FILE), text, 0o600);
}

/** The new image reached the machine: rollback's own path back to the release before the upgrade. */
async function returnAcrossUpgrade(project: Project, fly: FlyClient, machine: Machine, before: ReleaseRecord, j: UpgradeJournal, opts: { progress: Progress; deadlineMs?: number }): Promise<void> {
  const { rollbackToRelease } = await import('./rollback.js');
  const input = { project, fly, machine, target: before, changes: await checkedChanges(project, before), targetConfig: await releaseConfigText(project, before), progress: opts.progress, deadlineMs: opts.deadlineMs };
  try {
    await rollbackToRelease({ ...input, stateSnapshot: j.snapshot });
  } catch (error) {
    // An earlier way back already moved the snapshot's files home: the image and files remain to do.
    if (!(isClawdflyError(error) && error.code === 'snapshot-missing')) throw error;
    await rollbackToRelease(input);
  }
}
