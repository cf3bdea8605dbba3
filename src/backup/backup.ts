/**
 * `clawdfly backup`: the machine's state dir, streamed over ONE `ssh console -C` call as a gzip'd
 * tar (never through a temp file on the machine's small disk), written to a private partial file
 * here, checked member by member against the manifest the machine wrote from the same bytes, and
 * only then renamed to `.clawdfly/backups/<app>-<UTC stamp>.tar.gz` (0600).
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ClawdflyError, UsageError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import { FlyRemoteExitError } from '../fly/errors.js';
import type { Machine } from '../fly/json.js';
import type { Project } from '../project/project.js';
import { readArchive, backupFileName, backupsDir, type Manifest, type VerifiedArchive } from './archive.js';
import { backupExcludes, EXCLUDED_LABELS } from '../gateway/backup-excludes.js';
import { agentCommand, agentFrame } from '../remote/agent-call.js';
import { AGENT_STATUS } from '../remote/agent/protocol.js';

/** How long the stream may stay silent before the connection counts as lost. */
const IDLE_TIMEOUT_MS = Number(process.env['CLAWDFLY_TRANSFER_IDLE_MS'] || 120_000);

export interface BackupProgress {
  /** Compressed bytes received so far. */
  received: number;
  /** Uncompressed bytes and files the machine is about to send (from its first line), when known. */
  total?: { bytes: number; files: number };
}

export interface BackupResult {
  file: string;
  app: string;
  machine: string;
  /** Archive size (compressed). */
  bytes: number;
  sha256: string;
  files: number;
  /** Sum of the files' sizes. */
  dataBytes: number;
  durationMs: number;
  manifest: Manifest;
  snapshot?: { volume: string; id?: string; status?: string };
}

/** The final path: `--out FILE`, or a fresh name in .clawdfly/backups (the next second's when this one is taken). */
async function destination(project: Project, out: string | undefined): Promise<string> {
  if (out) {
    const file = resolve(out);
    if (await exists(file)) throw new UsageError(`${file} already exists`, 'choose another --out FILE (a backup never overwrites a file)', 'out-exists');
    if (!(await stat(dirname(file)).catch(() => undefined))?.isDirectory()) throw new UsageError(`no such folder: ${dirname(file)}`, 'create it, or choose another --out FILE', 'out-dir-missing');
    return file;
  }
  const dir = backupsDir(project.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Archives hold channel credentials: never in git, in projects of any age (.clawdfly is docker-ignored already).
  await writeFile(join(dir, '.gitignore'), '# clawdfly backups hold channel credentials: never commit them\n*\n', { flag: 'wx', mode: 0o644 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  for (let t = Date.now(); ; t += 1000) {
    const file = join(dir, backupFileName(project.app, new Date(t)));
    if (!(await exists(file))) return file;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

export async function takeBackup(
  project: Project,
  fly: FlyClient,
  machine: Machine,
  opts: { out?: string; onProgress?: (p: BackupProgress) => void } = {},
): Promise<BackupResult> {
  const started = Date.now();
  const file = await destination(project, opts.out);
  const partial = join(dirname(file), `.${basename(file)}.partial-${randomBytes(4).toString('hex')}`);
  // 0600 from the first byte (the archive holds channel credentials); 'wx': never an existing file.
  const sink = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
  await new Promise<void>((resolve, reject) => sink.once('open', () => resolve()).once('error', reject));
  const progress: BackupProgress = { received: 0 };
  const meta = {
    app: project.app,
    runtime: project.runtime.id,
    machine: machine.id,
    image: machine.config?.image ?? machine.image_ref?.digest,
    stateDir: project.stateDir,
    excludes: backupExcludes(),
    excludedLabels: EXCLUDED_LABELS,
  };
  let verified: VerifiedArchive;
  try {
    let result;
    try {
      result = await fly.sshTransfer(agentCommand('backup', project.stateDir, meta), {
        machineId: machine.id,
        stdinPrefix: agentFrame(),
        stdout: sink,
        idleTimeoutMs: IDLE_TIMEOUT_MS,
        onStdoutBytes: (n) => {
          progress.received += n;
          opts.onProgress?.(progress);
        },
        onStderrLine: (line) => {
          const m = /^__TOTAL (\d+) (\d+)$/.exec(line.trim());
          if (m) {
            progress.total = { bytes: Number(m[1]), files: Number(m[2]) };
            opts.onProgress?.(progress);
          }
        },
      });
    } catch (error) {
      throw remoteFailure(error, project);
    }
    if (result.sinkError) {
      const code = (result.sinkError as NodeJS.ErrnoException).code;
      throw new ClawdflyError(
        code === 'ENOSPC' ? `the local disk is full: ${partial} could not be written` : `writing ${partial} failed: ${result.sinkError.message}`,
        { hint: code === 'ENOSPC' ? 'free some space (or choose another disk with --out FILE), then: clawdfly backup' : 'clawdfly backup --out FILE', code: code === 'ENOSPC' ? 'local-disk-full' : 'local-write-failed' },
      );
    }
    try {
      verified = await readArchive((await import('node:fs')).createReadStream(partial));
    } catch (error) {
      throw new ClawdflyError(`the archive received from machine ${machine.id} does not verify: ${(error as Error).message}`, {
        hint: 'run clawdfly backup again (the connection may have dropped)',
        code: 'backup-damaged',
      });
    }
    if (verified.manifest.app !== project.app || verified.manifest.machine !== machine.id) {
      throw new ClawdflyError(`the machine answered with a backup of ${verified.manifest.app}/${verified.manifest.machine}, not ${project.app}/${machine.id}`, { code: 'backup-mismatch' });
    }
    await chmod(partial, 0o600);
    await rename(partial, file);
  } catch (error) {
    sink.destroy();
    await rm(partial, { force: true });
    throw error;
  }
  return {
    file,
    app: project.app,
    machine: machine.id,
    bytes: verified.bytes,
    sha256: verified.archiveSha256,
    files: verified.files.length,
    dataBytes: verified.files.reduce((n, f) => n + f.size, 0),
    durationMs: Date.now() - started,
    manifest: verified.manifest,
  };
}

/** A remote exit of the archive script, in words (never the script's own argv, which is long). */
function remoteFailure(error: unknown, project: Project): unknown {
  if (!(error instanceof FlyRemoteExitError)) return error;
  const status = AGENT_STATUS;
  const said = remoteStderr(error.stderr);
  if (error.remoteStatus === status.notDir) {
    return new ClawdflyError(`${project.stateDir} is not a directory on the machine`, { hint: 'clawdfly doctor  (state-dir)', code: 'no-state-dir' });
  }
  if (error.remoteStatus === status.sqliteFailed) {
    return new ClawdflyError('a SQLite database on the machine could not be copied consistently; no archive was written', {
      hint: 'run clawdfly backup again (a long write may have held the database); clawdfly backup --verbose shows the cause',
      code: 'sqlite-snapshot-failed',
      evidence: said,
    });
  }
  if (error.remoteStatus === 127) {
    return new ClawdflyError('node was not found on the machine (the backup runs with the image\'s Node)', { hint: 'clawdfly deploy  (an image made by clawdfly init has it)', code: 'no-node' });
  }
  return new ClawdflyError(`the backup script on the machine failed with status ${error.remoteStatus}`, { hint: 'clawdfly backup --verbose  (shows the remote error)', code: 'backup-failed', evidence: said });
}

/** The remote script's own error lines (flyctl's `Error: ssh shell…` line left out), last ones first to go. */
export function remoteStderr(stderr: string): string[] {
  return stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^Error: ssh shell/.test(l) && !/^__TOTAL /.test(l)).slice(-5).map((l) => `machine: ${l.slice(0, 300)}`);
}

/**
 * `fly volumes snapshots create` for the machine's volume. flyctl prints no id (flyctl-day2.md
 * §4.1), so the snapshot list before and after tells which one is new; a pending one has no id yet.
 */
export async function snapshotVolume(fly: FlyClient, machine: Machine): Promise<{ volume: string; id?: string; status?: string }> {
  let volume = machine.config?.mounts?.find((m) => m.volume)?.volume;
  if (!volume) volume = (await fly.listVolumes()).find((v) => v.attached_machine_id === machine.id)?.id;
  if (!volume) throw new ClawdflyError(`machine ${machine.id} has no volume to snapshot`, { hint: 'clawdfly doctor  (state-dir)', code: 'no-volume' });
  const before = new Set((await fly.listSnapshots(volume)).map((s) => `${s.id}|${s.created_at ?? ''}`));
  await fly.createSnapshot(volume);
  const after = await fly.listSnapshots(volume);
  const fresh = after.filter((s) => !before.has(`${s.id}|${s.created_at ?? ''}`)).pop();
  return { volume, id: fresh?.id || undefined, status: fresh?.status };
}
