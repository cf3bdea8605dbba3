/**
 * .clawdfly/releases.json: one record per deploy that put a new image on the machine (and per
 * rollback), newest last, so `clawdfly rollback` knows which image ran before and can put back the
 * project files it was built from. A copy of those files is kept per release under
 * .clawdfly/releases/<version>/ (0600 copies in a 0700 folder: the gateway config may hold literal
 * keys; secrets.env is never copied). `.clawdfly` is docker-ignored, so none of this reaches the
 * image build context or changes the image hash; the folder carries its own `.gitignore`.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Machine } from '../fly/json.js';
import { findRuntime } from '../gateway/runtime.js';
import { PROJECT_FILES } from '../project/paths.js';
import type { Project } from '../project/project.js';
import { repoLayout } from '../project/repo-layout.js';
import { readTextIfExists, writeFileAtomic } from '../util/fs.js';
import { imageRefOf, listFiles } from './state.js';

export const RELEASES_FILE = `${PROJECT_FILES.stateDir}/releases.json`;
export const RELEASES_DIR = `${PROJECT_FILES.stateDir}/releases`;
/** How many releases (and file copies) are kept: older ones are pruned on each new record. */
export const KEEP_RELEASES = 10;

export interface ReleaseFile {
  sha256: string;
  /** Executable bit (runtime/entrypoint.sh must stay executable when put back). */
  executable: boolean;
}

export interface ReleaseRecord {
  /** Fly's release version (machine metadata fly_release_version). */
  version: string;
  /** `repository:tag@digest` the machine ran: the identity compared against (state.ts imageRefOf). */
  imageRef: string;
  /** The pullable ref `fly deploy --image` takes (the machine config's image). */
  image: string;
  /** Gateway runtime row id (src/gateway/runtime.ts). */
  runtime: string;
  /** Project-relative path → hash of every local file the release was made from. */
  files: Record<string, ReleaseFile>;
  at: string;
  kind: 'deploy' | 'rollback' | 'upgrade';
  /** A rollback: the version whose image and files it put back. */
  rolledBackTo?: string;
  /** An upgrade: the runtime row that ran before it (a change of gateway package, or a newer row of the same). */
  upgradedFrom?: string;
  /** An upgrade: where the old gateway's files on the volume were kept (put back by a rollback to that runtime). */
  stateSnapshot?: string;
  /** Project-relative path of the backup of the state dir taken before this release, when one was. */
  backup: string | null;
}

export interface ReleaseHistory {
  version: 1;
  app: string;
  releases: ReleaseRecord[];
}

export async function readReleases(dir: string, app: string): Promise<ReleaseHistory> {
  const text = await readTextIfExists(join(dir, RELEASES_FILE));
  if (text) {
    try {
      const history = JSON.parse(text) as ReleaseHistory;
      if (history.version === 1 && history.app === app && Array.isArray(history.releases)) return history;
    } catch {
      // unreadable: no history (rollback then says there is nothing to go back to)
    }
  }
  return { version: 1, app, releases: [] };
}

/**
 * The CI workflow init writes (`init --github-actions`), relative to the project: it names the gateway
 * token's secret, so a release of another runtime row has its own. In a project below its repository's
 * root it sits above the project (`../../.github/workflows/deploy.yml`).
 */
function workflowKey(project: Project): string {
  return repoLayout(project.dir).workflowPath;
}

/**
 * Where a release keeps its copy of a file: the same relative path, with each `..` (the workflow
 * above the project) spelled `_up_`, so no copy is ever written outside the release's folder.
 */
function copyPathOf(copyDir: string, file: string): string {
  return join(copyDir, ...file.split('/').map((part) => (part === '..' ? '_up_' : part)));
}

/** A recorded path that leaves the project is only ever the workflow's (a hand-edited releases.json is not followed elsewhere). */
function checkedKey(project: Project, file: string): string {
  if (file.split('/').includes('..') && file !== workflowKey(project)) throw new Error(`releases.json names ${file}, outside the project: refused`);
  return file;
}

/** The local files a release is made of: what builds the image, plus the gateway config and the CI workflow. */
export async function releaseFilePaths(project: Project): Promise<string[]> {
  const config = relative(project.dir, project.configPath).split(sep).join('/');
  const runtime = await listFiles(project.dir, PROJECT_FILES.runtimeDir);
  // answers.json names the runtime row (and written.json init's view of the files): a release of
  // another runtime puts them back too, so every command reads that runtime's names again.
  const fixed = [PROJECT_FILES.flyToml, PROJECT_FILES.dockerfile, PROJECT_FILES.dockerignore, config, PROJECT_FILES.answers, PROJECT_FILES.written, workflowKey(project)];
  const present: string[] = [];
  for (const file of [...fixed, ...runtime]) {
    if ((await stat(join(project.dir, file)).catch(() => undefined))?.isFile()) present.push(file);
  }
  return [...new Set(present)];
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function hashLocalFiles(project: Project): Promise<Record<string, ReleaseFile>> {
  const files: Record<string, ReleaseFile> = {};
  for (const file of await releaseFilePaths(project)) {
    const abs = join(project.dir, file);
    files[file] = { sha256: sha256(await readFile(abs)), executable: ((await stat(abs)).mode & 0o111) !== 0 };
  }
  return files;
}

export function copyDirOf(dir: string, version: string): string {
  return join(dir, RELEASES_DIR, safeVersion(version));
}

/** Release versions come from Fly's metadata: never let one name a path outside the folder. */
function safeVersion(version: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(version) || version === '.' || version === '..') throw new Error(`unexpected release version ${JSON.stringify(version)}`);
  return version;
}

async function ensureReleasesDir(dir: string): Promise<string> {
  const root = join(dir, RELEASES_DIR);
  await mkdir(root, { recursive: true, mode: 0o700 });
  // The copies include the gateway config, which may hold literal keys: never in git, in projects of any age.
  await writeFile(join(root, '.gitignore'), '# clawdfly release copies may hold literal keys from the gateway config: never commit them\n*\n', { flag: 'wx', mode: 0o644 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  return root;
}

/**
 * Appends the release the machine runs now and keeps a copy of the local files it came from.
 * Returns the record. Old records beyond KEEP_RELEASES lose their record and their copy.
 */
export async function recordRelease(
  project: Project,
  machine: Machine,
  extra: { kind: ReleaseRecord['kind']; backup?: string; rolledBackTo?: string; upgradedFrom?: string; stateSnapshot?: string },
): Promise<ReleaseRecord> {
  const history = await readReleases(project.dir, project.app);
  const version = String(machine.config?.metadata?.['fly_release_version'] ?? `local-${Date.now()}`);
  const files = await hashLocalFiles(project);
  await ensureReleasesDir(project.dir);
  const copyDir = copyDirOf(project.dir, version);
  await rm(copyDir, { recursive: true, force: true });
  await mkdir(copyDir, { recursive: true, mode: 0o700 });
  for (const file of Object.keys(files)) {
    const target = copyPathOf(copyDir, file);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    await writeFileAtomic(target, await readFile(join(project.dir, file)), 0o600);
    await chmod(target, 0o600);
  }
  const record: ReleaseRecord = {
    version,
    imageRef: imageRefOf(machine),
    image: machine.config?.image ?? imageRefOf(machine),
    runtime: project.runtime.id,
    files,
    at: new Date().toISOString(),
    kind: extra.kind,
    ...(extra.rolledBackTo ? { rolledBackTo: extra.rolledBackTo } : {}),
    ...(extra.upgradedFrom ? { upgradedFrom: extra.upgradedFrom } : {}),
    ...(extra.stateSnapshot ? { stateSnapshot: extra.stateSnapshot } : {}),
    backup: extra.backup ? relative(project.dir, extra.backup).split(sep).join('/') : null,
  };
  // A version seen again (a record rewritten) replaces its old entry.
  history.releases = [...history.releases.filter((r) => r.version !== version), record];
  const dropped = history.releases.slice(0, Math.max(0, history.releases.length - KEEP_RELEASES));
  history.releases = history.releases.slice(dropped.length);
  await writeFileAtomic(join(project.dir, RELEASES_FILE), JSON.stringify(history, null, 2) + '\n', 0o600);
  await pruneCopies(project.dir, new Set(history.releases.map((r) => r.version)));
  return record;
}

async function pruneCopies(dir: string, keep: Set<string>): Promise<void> {
  const root = join(dir, RELEASES_DIR);
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (entry.isDirectory() && !keep.has(entry.name)) await rm(join(root, entry.name), { recursive: true, force: true });
  }
}

/** The release the machine runs (the newest record) and the one `rollback` goes to by default. */
export function currentAndPrevious(history: ReleaseHistory): { current?: ReleaseRecord; previous?: ReleaseRecord } {
  const list = history.releases;
  const current = list.at(-1);
  if (!current) return {};
  // The newest earlier release that actually differs: going "back" to the same image and files changes nothing.
  for (let i = list.length - 2; i >= 0; i--) {
    const r = list[i]!;
    if (r.imageRef !== current.imageRef || !sameFiles(r.files, current.files)) return { current, previous: r };
  }
  return { current };
}

function sameFiles(a: Record<string, ReleaseFile>, b: Record<string, ReleaseFile>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k]?.sha256 === a[k]!.sha256);
}

/** `--to 3` or `--to v3`. */
export function findRelease(history: ReleaseHistory, wanted: string): ReleaseRecord | undefined {
  const version = wanted.replace(/^v/i, '');
  return history.releases.find((r) => r.version === version);
}

export interface FileChange {
  path: string;
  change: 'update' | 'create' | 'delete';
  /** Text now and after (for the diff); undefined for a file that does not exist on that side. */
  now?: string;
  then?: string;
}

/** What putting the release's files back changes in the project (and the copy is intact). */
export async function fileChanges(project: Project, target: ReleaseRecord): Promise<FileChange[]> {
  const copyDir = copyDirOf(project.dir, target.version);
  const nowFiles = await hashLocalFiles(project);
  const changes: FileChange[] = [];
  for (const [file, meta] of Object.entries(target.files)) {
    const then = await readFile(copyPathOf(copyDir, checkedKey(project, file))).catch(() => undefined);
    if (!then || sha256(then) !== meta.sha256) throw new Error(`the saved copy of ${file} for release v${target.version} is missing or altered (${join(RELEASES_DIR, target.version, file)})`);
    const now = nowFiles[file];
    if (!now) changes.push({ path: file, change: 'create', then: then.toString('utf8') });
    else if (now.sha256 !== meta.sha256 || now.executable !== meta.executable) {
      changes.push({ path: file, change: 'update', now: await readFile(join(project.dir, file), 'utf8'), then: then.toString('utf8') });
    }
  }
  // runtime/ files the release did not have would change the next build: they go. So does the config
  // of another runtime (an upgrade's new config name when going back to the release before it).
  const config = relative(project.dir, project.configPath).split(sep).join('/');
  for (const file of Object.keys(nowFiles)) {
    if (!target.files[file] && (file.startsWith(`${PROJECT_FILES.runtimeDir}/`) || file === config)) changes.push({ path: file, change: 'delete', now: await readFile(join(project.dir, file), 'utf8') });
  }
  return changes;
}

/** Puts the release's copies back over the project files (each written atomically, modes as recorded). */
export async function restoreFiles(project: Project, target: ReleaseRecord, changes: FileChange[]): Promise<void> {
  const copyDir = copyDirOf(project.dir, target.version);
  for (const c of changes) {
    const abs = join(project.dir, c.path);
    if (c.change === 'delete') {
      await rm(abs, { force: true });
      continue;
    }
    const meta = target.files[c.path]!;
    const previousMode = (await stat(abs).catch(() => undefined))?.mode;
    // Keep the user's own permissions (a config kept 0600 stays 0600); only the executable bit follows the release.
    const base = previousMode !== undefined ? previousMode & 0o666 : 0o644;
    const mode = meta.executable ? base | ((base & 0o444) >> 2) : base;
    await writeFileAtomic(abs, await readFile(copyPathOf(copyDir, checkedKey(project, c.path)), 'utf8'), mode);
  }
}

/** The saved copy of the release's gateway config (named by the release's runtime), as text. */
export async function releaseConfigText(project: Project, target: ReleaseRecord): Promise<string | undefined> {
  const config = findRuntime(target.runtime)?.configFileName ?? relative(project.dir, project.configPath).split(sep).join('/');
  if (!target.files[config]) return undefined;
  return readFile(join(copyDirOf(project.dir, target.version), config), 'utf8');
}
