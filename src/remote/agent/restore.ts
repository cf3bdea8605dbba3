/**
 * Restoring a state archive on the machine, and removing the folder it set the old files aside in.
 *   - no fixed temp names: the archive is extracted into `mkdtemp(<dir>/.clawdfly-restore-)`;
 *   - never mixes old and new files: the archive is extracted and checked in full in the fresh
 *     temp dir, then the current top-level entries are moved into `<dir>/.pre-restore-<stamp>-*`
 *     and the new ones moved in (renames within one filesystem); any failure moves them back;
 *   - links and special files (which no archive holds) are put back in place after the swap, not
 *     deleted with the replaced tree.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ArchiveError, compareToManifest, excludedTop, PENDING_NAME, readArchive, type FileSink, type VerifiedArchive } from './archive.js';
import { AgentFailure, notADirectory } from './failure.js';
import { openPlain, readWhole, walk } from './files.js';
import { AGENT_STATUS, type AgentParams, type ConfirmResponse, type RestoreResponse, type StagedResponse } from './protocol.js';

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** Files and dirs created only inside our own fresh temp dir, never through a link. */
function extractor(stage: string) {
  const made = new Set(['']);
  const ensureDir = (rel: string): void => {
    if (made.has(rel)) return;
    ensureDir(rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
    const abs = `${stage}/${rel}`;
    try {
      fs.mkdirSync(abs, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.lstatSync(abs).isDirectory()) throw e;
    }
    made.add(rel);
  };
  const dirModes: { path: string; mode: number }[] = [];
  return {
    dir({ path, mode }: { path: string; mode: number }): void {
      ensureDir(path);
      dirModes.push({ path, mode });
    },
    file({ path, mode, mtime }: { path: string; mode: number; mtime: number }): FileSink {
      ensureDir(path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
      const fd = fs.openSync(`${stage}/${path}`, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
      return {
        write(chunk) {
          let off = 0;
          while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
        },
        close() {
          try {
            fs.fchmodSync(fd, mode & 0o777);
            fs.futimesSync(fd, mtime, mtime);
            fs.fsyncSync(fd);
          } finally {
            fs.closeSync(fd);
          }
        },
      };
    },
    /** Dir modes last (a read-only dir must not stop its own extraction), deepest first. */
    finish(): void {
      for (const { path, mode } of dirModes.sort((a, b) => b.path.length - a.path.length)) {
        const fd = fs.openSync(`${stage}/${path}`, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
        try {
          fs.fchmodSync(fd, (mode & 0o777) | 0o700);
        } finally {
          fs.closeSync(fd);
        }
      }
    },
  };
}

/**
 * Links and special files an archive cannot hold (backup names them as skipped): after the swap,
 * each one moved aside with the old tree goes back to its place when the restored tree has a real
 * folder there and nothing of that name (renames only: a link is moved, never followed).
 */
function keepUnarchivable(root: string, pre: string, excludes: string[]): { kept: string[]; left: string[] } {
  const kept: string[] = [];
  const left: string[] = [];
  for (const s of walk(pre, excludes).skipped) {
    if (s.reason !== 'symlink' && s.reason !== 'special file') continue;
    const parent = s.path.includes('/') ? s.path.slice(0, s.path.lastIndexOf('/')) : '';
    let ok = true;
    // every folder on the way is a real folder of the restored tree (never a link)
    let rel = '';
    for (const part of parent ? parent.split('/') : []) {
      rel = rel ? `${rel}/${part}` : part;
      if (!fs.lstatSync(`${root}/${rel}`, { throwIfNoEntry: false })?.isDirectory()) {
        ok = false;
        break;
      }
    }
    if (ok) ok = fs.lstatSync(`${root}/${s.path}`, { throwIfNoEntry: false }) === undefined;
    if (ok) {
      try {
        fs.renameSync(`${pre}/${s.path}`, `${root}/${s.path}`);
        kept.push(s.path);
        continue;
      } catch {
        /* left below */
      }
    }
    left.push(s.path);
  }
  return { kept, left };
}

/** Signals and a closed stdout no longer stop the agent once the swap has begun. */
export type SwapGuard = () => void;


// ---------------------------------------------------------------- staged restore (restore before start)
// The machine's half of a restore applied by the image's prepare-data.mjs at boot (its own
// delimited block there): the verified tree is left staged and named in a marker file.

/** The image file that applies a staged restore at boot (an image made by an older clawdfly has none: live swap). */
function bootApplier(): string {
  return process.env['CLAWDFLY_TEST_BOOT_APPLIER'] || '/app/prepare-data.mjs';
}

/** Whether this machine's image applies a staged restore before its gateway starts. */
function appliesAtBoot(): boolean {
  try {
    return fs.readFileSync(bootApplier(), 'utf8').includes(PENDING_NAME);
  } catch {
    return false;
  }
}

interface Pending {
  format?: string;
  state: string;
  stage?: unknown;
  preRestore?: unknown;
  failedRestore?: unknown;
  error?: unknown;
}

function readPending(root: string): Pending | null {
  const abs = `${root}/${PENDING_NAME}`;
  const st = fs.lstatSync(abs, { throwIfNoEntry: false });
  if (!st) return null;
  if (!st.isFile()) return { state: 'invalid' };
  try {
    const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      return JSON.parse(fs.readFileSync(fd, 'utf8')) as Pending;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return { state: 'invalid' };
  }
}

/** The marker, written whole (a fresh temp file renamed over it): prepare-data never sees half of it. */
function writePending(root: string, pending: Record<string, unknown>): void {
  const tmp = `${root}/${PENDING_NAME}.${randomBytes(6).toString('hex')}`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify(pending, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, `${root}/${PENDING_NAME}`);
}

const STAGE_NAME_RE = /^\.clawdfly-staged-restore-[A-Za-z0-9]+$/;
const PREVIOUS_NAME_RE = /^\.(?:pre|failed)-restore-[0-9TZ]+-[A-Za-z0-9]+$/;

/**
 * Leaves the verified tree in its temp dir and names it in the marker: the next boot moves the
 * current state aside and this one in before the gateway starts. An earlier staged tree that was
 * never applied is replaced. The name carries the caller's tag (how a run that lost this answer to
 * Ctrl-C finds that the staging happened).
 */
function leaveStaged(root: string, stageDir: string, result: VerifiedArchive, excludes: string[], tag: string | undefined, applyWithinMs: number, beginSwap: SwapGuard): StagedResponse {
  // Once begun it is finished (two renames): a dropped connection or a signal does not stop it half-way.
  beginSwap();
  const earlier = readPending(root);
  if (earlier && earlier.state === 'staged' && typeof earlier.stage === 'string' && STAGE_NAME_RE.test(earlier.stage)) {
    fs.rmSync(`${root}/${earlier.stage}`, { recursive: true, force: true });
  }
  // Its own prefix from now on: a temp dir of an extraction that died is clawdfly's to clean, a staged tree is not.
  const safeTag = /^[A-Za-z0-9]{1,16}$/.test(tag ?? '') ? tag! : '';
  const name = `.clawdfly-staged-restore-${safeTag}${stageDir.slice(stageDir.lastIndexOf('-') + 1)}`;
  fs.renameSync(stageDir, `${root}/${name}`);
  // Applied only by a boot within `applyWithinMs` (the restart clawdfly makes next): a restore
  // interrupted before its restart must not come back at some later, unrelated boot.
  writePending(root, { format: 'clawdfly-restore/1', state: 'staged', stage: name, tag: safeTag, excludes, archiveSha256: result.archiveSha256, stagedAt: new Date().toISOString(), applyWithinMs });
  return { staged: true, stage: name, files: result.files.length, bytes: result.files.reduce((n, f) => n + f.size, 0) };
}

/**
 * After the gateway listened on the restored state: the marker goes, and the state it replaced too
 * (unless kept). Reports what the boot did: applied, reverted (the gateway failed to start on it and
 * the next boot put the old state back), or still staged (the machine did not boot through prepare-data).
 */
export function confirmRestore(root: string, requested: AgentParams['confirm-restore']['how']): ConfirmResponse {
  let how = requested;
  const pending = readPending(root);
  const keepPrevious = how === 'keep';
  if (how === 'discard' && pending && pending.state !== 'staged') how = 'status'; // only a staged restore is taken back
  const report = {
    state: pending ? pending.state : 'none',
    preRestore: null as string | null,
    failedRestore: null as string | null,
    dropped: false,
    error: pending?.error ? String(pending.error).slice(0, 300) : null,
  };
  if (typeof pending?.preRestore === 'string' && PREVIOUS_NAME_RE.test(pending.preRestore)) report.preRestore = pending.preRestore;
  if (typeof pending?.failedRestore === 'string' && PREVIOUS_NAME_RE.test(pending.failedRestore)) report.failedRestore = pending.failedRestore;
  if (how === 'status') {
    /* only read */
  } else if (report.state === 'applied') {
    if (report.preRestore && !keepPrevious) {
      fs.rmSync(`${root}/${report.preRestore}`, { recursive: true, force: true });
      report.dropped = true;
    }
    fs.rmSync(`${root}/${PENDING_NAME}`, { force: true });
  } else if (report.state === 'reverted' || report.state === 'failed') {
    fs.rmSync(`${root}/${PENDING_NAME}`, { force: true });
  } else if (how === 'discard' && report.state === 'staged') {
    // the restart never came: the staged tree goes, the state is as it was
    if (typeof pending?.stage === 'string' && STAGE_NAME_RE.test(pending.stage)) fs.rmSync(`${root}/${pending.stage}`, { recursive: true, force: true });
    fs.rmSync(`${root}/${PENDING_NAME}`, { force: true });
    report.state = 'discarded';
  }
  return { confirmed: how !== 'status' && report.state === 'applied', ...report };
}

// ---------------------------------------------------------------- end of staged restore

export async function restore(root: string, input: NodeJS.ReadableStream, params: AgentParams['restore'], beginSwap: SwapGuard = () => {}): Promise<RestoreResponse | StagedResponse> {
  const excludes = params.excludes ?? [];
  if (!fs.lstatSync(root).isDirectory()) throw notADirectory(root);
  const stage = fs.mkdtempSync(`${root}/.clawdfly-restore-`);
  const removeStage = () => fs.rmSync(stage, { recursive: true, force: true });
  let result: VerifiedArchive;
  try {
    const x = extractor(stage);
    result = await readArchive(input, {
      onDir: (d) => {
        if (!excludedTop(d.path.split('/')[0]!, excludes)) x.dir(d);
      },
      onFile: (f) => {
        if (excludedTop(f.path.split('/')[0]!, excludes)) throw new ArchiveError(`the archive holds ${f.path}, which a restore never writes`);
        return x.file(f);
      },
    });
    if (result.archiveSha256 !== params.sha256) throw new ArchiveError(`the upload arrived damaged (sha256 ${result.archiveSha256}, sent ${params.sha256})`);
    x.finish();
  } catch (e) {
    removeStage();
    throw new AgentFailure(e instanceof Error ? e.message : String(e), AGENT_STATUS.damaged);
  }
  // A directory can only move to another parent if we may write it ('..' changes): one that root
  // made here cannot, so say so before anything moves.
  const stuck = fs.readdirSync(root).filter((name) => {
    if (excludedTop(name, excludes) || !fs.lstatSync(`${root}/${name}`).isDirectory()) return false;
    try {
      fs.accessSync(`${root}/${name}`, fs.constants.W_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (stuck.length) {
    removeStage();
    throw new AgentFailure(`${stuck.map((n) => `${root}/${n}`).join(' ')}: not writable by the owner of ${root} (made by root?), so it cannot be moved aside`, AGENT_STATUS.refused);
  }
  if (appliesAtBoot()) return leaveStaged(root, stage, result, excludes, params.tag, params.applyWithinMs ?? 10 * 60 * 1000, beginSwap);
  // An image without the boot step: swap now (the gateway still runs until the restart).
  // Swap: everything current (but excluded names) into .pre-restore-*, then the staged tree in.
  // Once begun it is finished: a dropped connection (SIGHUP) or a signal does not stop it half-way,
  // and a closed stdout does not crash it (the caller finds the swap by its tag).
  beginSwap();
  const pre = fs.mkdtempSync(`${root}/.pre-restore-${stamp()}-${/^[A-Za-z0-9]{1,16}$/.test(params.tag ?? '') ? params.tag : ''}`);
  const movedOut: string[] = [];
  const movedIn: string[] = [];
  try {
    for (const name of fs.readdirSync(root).sort()) {
      if (excludedTop(name, excludes)) continue;
      fs.renameSync(`${root}/${name}`, `${pre}/${name}`);
      movedOut.push(name);
    }
    for (const name of fs.readdirSync(stage).sort()) {
      fs.renameSync(`${stage}/${name}`, `${root}/${name}`);
      movedIn.push(name);
    }
    fs.rmdirSync(stage);
  } catch (e) {
    // Put everything back as it was: the new entries into the stage, the old ones home.
    for (const name of movedIn.reverse()) {
      try {
        fs.renameSync(`${root}/${name}`, `${stage}/${name}`);
      } catch {
        /* reported below */
      }
    }
    for (const name of movedOut.reverse()) {
      try {
        fs.renameSync(`${pre}/${name}`, `${root}/${name}`);
      } catch {
        /* reported below */
      }
    }
    removeStage();
    try {
      fs.rmdirSync(pre);
    } catch {
      /* not empty: something could not move back, keep it */
    }
    throw new AgentFailure(`the swap failed (${e instanceof Error ? e.message : String(e)}); the previous files were put back`, AGENT_STATUS.swapFailed);
  }
  const unarchivable = keepUnarchivable(root, pre, excludes);
  // What is in place now, read back.
  const files = walk(root, excludes).files.map((f) => {
    const o = openPlain(`${root}/${f.path}`);
    if (o.error !== undefined) return { path: f.path, size: -1, sha256: '' };
    try {
      const data = readWhole(o.fd, o.st.size);
      return { path: f.path, size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
    } finally {
      fs.closeSync(o.fd);
    }
  });
  return {
    restored: true,
    preRestore: pre.slice(pre.lastIndexOf('/') + 1),
    files: result.files.length,
    bytes: result.files.reduce((n, f) => n + f.size, 0),
    movedAside: movedOut,
    problems: compareToManifest(result.manifest, files),
    keptInPlace: unarchivable.kept,
    leftAside: unarchivable.left,
  };
}

/** Removes one `.pre-restore-*` dir (after the gateway came up on the restored state). */
export function dropPrevious(root: string, name: string): { dropped: string } {
  if (!/^\.pre-restore-[0-9TZ]+-[A-Za-z0-9]+$/.test(name)) throw new AgentFailure(`refusing to remove ${JSON.stringify(name)}`, AGENT_STATUS.refused);
  const abs = `${root}/${name}`;
  if (!fs.lstatSync(abs).isDirectory()) throw new AgentFailure(`${abs} is not a directory`, AGENT_STATUS.refused);
  fs.rmSync(abs, { recursive: true, force: true });
  return { dropped: name };
}

/**
 * Whether the upload tagged `tag` went through: the real `.pre-restore-*-<tag>*` folders (a live
 * swap) and `.clawdfly-staged-restore-<tag>*` folders (staged for the next boot), never a link.
 */
export function findSwap(root: string, tag: string): { preRestore: string[]; staged: string[] } {
  if (!/^[A-Za-z0-9]{1,16}$/.test(tag)) throw new AgentFailure('a swap tag is 1 to 16 letters or digits', AGENT_STATUS.badRequest);
  const dirs = fs.readdirSync(root).filter((name) => fs.lstatSync(`${root}/${name}`, { throwIfNoEntry: false })?.isDirectory()).sort();
  return {
    preRestore: dirs.filter((name) => /^\.pre-restore-[0-9TZ]+-[A-Za-z0-9]+$/.test(name) && name.includes(`-${tag}`)),
    staged: dirs.filter((name) => STAGE_NAME_RE.test(name) && name.startsWith(`.clawdfly-staged-restore-${tag}`)),
  };
}
