/**
 * Going back to a recorded release: `fly deploy --image <its ref>` (no rebuild) with its fly.toml,
 * its local files put back, its gateway config on the state dir, then: does it listen? Used by
 * `clawdfly rollback` and by `clawdfly upgrade` when the new gateway fails its verification.
 * A release of another runtime row (before an upgrade) also gets its gateway token name back in
 * .clawdfly/secrets.env (the value never changes; Fly still holds the secret under that name).
 */
import { takeBackup, type BackupResult } from '../backup/backup.js';
import { discard } from '../backup/restore.js';
import { ClawdflyError } from '../errors.js';
import { FlyImageNotFoundError } from '../fly/errors.js';
import type { FlyClient } from '../fly/client.js';
import type { Machine } from '../fly/json.js';
import { quoteWord } from '../fly/quote.js';
import { join, posix } from 'node:path';
import { findRuntime, remoteConfigPath, runtimePackageDir, stateEntriesToDiscard } from '../gateway/runtime.js';
import { WATCHDOG_HOLD_FILE } from '../gateway/watchdog.js';
import { gatewayPortOf } from '../operate/machine.js';
import { appUrl } from '../project/network.js';
import { loadProject, type Project } from '../project/project.js';
import { readSecrets, renameGatewayToken, writeSecrets } from '../project/secrets.js';
import { configsEquivalent, pushConfigFile, readRemoteConfig } from '../remote/config-transfer.js';
import type { Progress } from '../ui/progress.js';
import { deployRefOf, digestOf, isAppImage, recordRelease, releaseFlyTomlFor, ReleasesRefusedError, restoreFiles, RELEASES_DIR, RELEASES_FILE, type FileChange, type ReleaseRecord } from './releases.js';
import { stagedSecrets } from '../deploy/preflight.js';
import { buildInputsHash, imageRefOf, readDeployState, secretsSetHash, writeDeployState } from '../deploy/state.js';
import { Verifier, type VerifyResult } from '../deploy/verify.js';
import { discardAside, restoreStateSnapshot } from './state-snapshot.js';

export interface RollbackInput {
  project: Project;
  fly: FlyClient;
  /** The gateway machine as it runs now. */
  machine: Machine;
  target: ReleaseRecord;
  /** fileChanges(project, target), computed (and shown) before anything changed. */
  changes: FileChange[];
  /** releaseConfigText(project, target). */
  targetConfig: string | undefined;
  progress: Progress;
  deadlineMs?: number;
  /** A backup of the state dir already taken for this run (an upgrade's): no second one. */
  backup?: BackupResult;
  /** Back across an upgrade: the old gateway's files kept on the volume, put back before its image starts. */
  stateSnapshot?: string;
}

export interface RollbackResult {
  record: ReleaseRecord;
  restored: Project;
  configWritten: boolean;
  backup: BackupResult;
  verify: VerifyResult;
}

export async function rollbackToRelease(input: RollbackInput): Promise<RollbackResult> {
  const { project, fly, machine, target, changes, targetConfig, progress } = input;
  // readReleases refused any record naming another image; checked again here, before the backup,
  // for every caller (rollback and upgrade's automatic one): this is what reaches `fly deploy --image`.
  const image = deployRefOf(target, project.app);
  if (!isAppImage(image, project.app)) {
    throw new ReleasesRefusedError(`release v${target.version} names image ${JSON.stringify(target.image)}, outside registry.fly.io/${project.app}: refused, nothing was deployed`, {
      hint: `check ${RELEASES_FILE} (clawdfly writes it itself)`,
      code: 'release-refused',
      exitCode: 2,
    });
  }
  // 1. The way back from the way back: the state dir as it is now.
  const backup = input.backup ?? (await progress.run('backup', `Backing up ${project.stateDir} of ${project.app} first`, () => takeBackup(project, fly, machine)));

  // 1b. Back across an upgrade: the old gateway's files (the new one migrated them) in place first,
  // so the old gateway starts on the state it left. The new gateway's are set aside, not deleted.
  let aside: string | undefined;
  if (input.stateSnapshot) {
    const snapshot = input.stateSnapshot;
    // the newer gateway held first (it opens its stores by path): it cannot write into what is put back
    const hold = { holdPath: watchdogHoldPath(project), packageDir: runtimePackageDir(project.runtime), entry: project.runtime.entry };
    aside = await progress.run('state', `hold ${project.runtime.id} and put the files kept before the upgrade back in ${project.stateDir}`, () => restoreStateSnapshot(fly, project.stateDir, machine.id, snapshot, hold));
  }

  // 2. The old image, deployed with the old fly.toml (its env and command belong to that image).
  const since = Date.now();
  // the release's fly.toml, in the network mode the project has now (a rollback never changes it)
  const flyToml = await releaseFlyTomlFor(project, target);
  try {
    await progress.run('deploy', `fly deploy --image ${image}`, (update) =>
      fly.deployImage({ cwd: project.dir, config: flyToml, image, noPublicIps: project.exposure === 'private', onLine: (line) => update(line.slice(0, 120)) }),
    );
  } catch (error) {
    if (error instanceof FlyImageNotFoundError) {
      if (!input.backup) await discard(backup.file); // nothing changed: the backup taken for this rollback is not needed
      throw new ClawdflyError(`release v${target.version}'s image ${target.image} no longer exists in Fly's registry (Fly prunes images that are not deployed for a while); nothing was changed`, {
        hint: `rebuild it from its saved files: cp -R ${quoteWord(`${RELEASES_DIR}/${target.version}`)}/. . && clawdfly deploy`,
        code: 'image-not-found',
      });
    }
    throw error;
  }

  // 3. The release's local files (and, for another runtime row, its token name), then its config on the state dir.
  await restoreFiles(project, target, changes);
  const targetRuntime = findRuntime(target.runtime);
  const runtimeChanged = targetRuntime !== undefined && targetRuntime.id !== project.runtime.id;
  if (runtimeChanged) {
    const secrets = await readSecrets(project.dir);
    await writeSecrets(project.dir, renameGatewayToken(secrets, project.runtime.env.gatewayToken, targetRuntime.env.gatewayToken));
  }
  const restored = await loadProject(project.dir, { app: project.app });
  const verifier = new Verifier(fly, {
    port: gatewayPortOf(machine, restored.fly.internalPort),
    url: appUrl(restored.app, restored.exposure),
    since,
    requireListening: true,
    runtime: restored.runtime,
    newApp: false,
    probeUrl: restored.exposure !== 'private',
    gatewayToken: restored.secrets[restored.runtime.env.gatewayToken],
    deadlineMs: input.deadlineMs,
  });
  let configWritten = false;
  const started = await progress.run('config', `make ${restored.remoteConfigPath} equal release v${target.version}'s ${restored.runtime.configFileName}`, async (update) => {
    verifier.opts.onUpdate = update;
    const m = await verifier.machineStarted();
    checkRunsRelease(m, target, project.app);
    await recordDeployState(restored, m, runtimeChanged);
    if (targetConfig === undefined) return m;
    const remote = await readRemoteConfig(fly, restored, m.id);
    if (remote !== undefined && configsEquivalent(targetConfig, remote)) return m;
    await pushConfigFile(fly, restored, m.id, targetConfig);
    configWritten = true;
    return m;
  });
  const verified = await progress.run('verify', `verify the gateway (listens on 0.0.0.0:${verifier.opts.port})`, (update) => {
    verifier.opts.onUpdate = update;
    return verifier.finish();
  });
  const final: Machine = verified.machine ?? started;
  if (aside) await discardSetAside(fly, project, restored, final, aside, backup, progress, verified.warnings);
  const record = await recordRelease(restored, final, { kind: 'rollback', backup: backup.file, rolledBackTo: target.version });
  return { record, restored, configWritten, backup, verify: verified };
}

/**
 * After the deploy, the machine must run the release's own image: the recorded digest (or, for a
 * record without one, the recorded ref) in this app's registry. Anything else stops the rollback
 * before the release's config is pushed to it or it is recorded as a release.
 */
/**
 * The watchdog's hold file relative to the project's state dir (the agent keeps it on the volume,
 * never through a link), or undefined when the state dir does not hold it.
 */
function watchdogHoldPath(project: Project): string | undefined {
  const rel = posix.relative(project.stateDir, WATCHDOG_HOLD_FILE);
  return rel && !rel.startsWith('..') && !posix.isAbsolute(rel) ? rel : undefined;
}

export function checkRunsRelease(machine: Machine, target: ReleaseRecord, app: string): void {
  const digest = digestOf(target);
  const ref = machine.image_ref;
  const ok = digest ? ref?.digest === digest && (ref.repository === undefined || ref.repository === app) : machine.config?.image === target.image;
  if (ok) return;
  throw new ClawdflyError(`after the deploy, machine ${machine.id} runs ${imageRefOf(machine) || 'an unknown image'}, not release v${target.version}'s image (${digest ?? target.image})`, {
    hint: `clawdfly status  (then clawdfly rollback --to v${target.version} --yes, or clawdfly deploy)`,
    code: 'image-mismatch',
  });
}

/**
 * The newer gateway's files set aside by the state step, once the older one is verified on its own:
 * the backup taken first holds them, so they go (OpenClaw's SQLite stores and caches are not small).
 * Failing to remove them is said, never a failed rollback.
 */
async function discardSetAside(fly: FlyClient, project: Project, restored: Project, machine: Machine, aside: string, backup: BackupResult, progress: Progress, warnings: string[]): Promise<void> {
  // From the pair: what the newer gateway wrote again that the one now running never writes.
  const ownEntries = stateEntriesToDiscard(project.runtime, restored.runtime);
  try {
    await progress.run('state', `remove ${aside} (${project.runtime.productName}'s files; kept in ${backup.file})`, () => discardAside(fly, project.stateDir, machine.id, aside, ownEntries, watchdogHoldPath(project)));
  } catch (error) {
    warnings.push(`${aside} was not removed (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); it holds the newer gateway's files, also in ${backup.file}: clawdfly ssh -- rm -rf ${quoteWord(aside)}`);
  }
}

/**
 * The next `deploy` must see the restored files as what is deployed: no rebuild of what runs. Back
 * on another runtime row, the staged secret set has other names: its hash is taken again.
 */
async function recordDeployState(project: Project, machine: Machine, secretNamesChanged: boolean): Promise<void> {
  const state = await readDeployState(project.dir, project.app);
  state.deploy = {
    inputsHash: await buildInputsHash(project.dir),
    secretsHash: secretNamesChanged ? secretsSetHash(state.salt, stagedSecrets(project.secrets)) : (state.deploy?.secretsHash ?? ''),
    machineId: machine.id,
    imageRef: imageRefOf(machine),
    releaseVersion: machine.config?.metadata?.['fly_release_version'],
    at: new Date().toISOString(),
  };
  await writeDeployState(project.dir, state);
}

/** The project as a release of another runtime row sees it: that row's names, config file and path on the state dir. */
export function projectAsRuntime(project: Project, runtimeId: string): Project {
  const runtime = findRuntime(runtimeId);
  if (!runtime || runtime.id === project.runtime.id) return project;
  return { ...project, runtime, configPath: join(project.dir, runtime.configFileName), remoteConfigPath: remoteConfigPath(runtime, project.stateDir) };
}
