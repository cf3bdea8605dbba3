/**
 * .clawdfly/releases.json: one record per deploy that put a new image on the machine (and per
 * rollback), newest last, so `clawdfly rollback` knows which image ran before and can put back the
 * project files it was built from. A copy of those files is kept per release under
 * .clawdfly/releases/<version>/ (0600 copies in a 0700 folder: the gateway config may hold literal
 * keys; secrets.env is never copied). `.clawdfly` is docker-ignored, so none of this reaches the
 * image build context or changes the image hash; the folder carries its own `.gitignore`.
 *
 * releases.json is git-ignored (a record without its git-ignored copies is no use elsewhere) and is
 * read as untrusted data all the same: every record is checked against a schema, and an image outside
 * `registry.fly.io/<this app>` is refused (exit 2) before anything is deployed.
 */
import { createHash } from 'node:crypto';
import type { ZodType } from 'zod';
import { ClawdflyError } from '../errors.js';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Machine } from '../fly/json.js';
import { findRuntime } from '../gateway/runtime.js';
import { exposureOf, type Exposure } from '../project/network.js';
import { PROJECT_FILES } from '../project/paths.js';
import { readTemplate } from '../project/render.js';
import type { Project } from '../project/project.js';
import { repoLayout } from '../project/repo-layout.js';
import { readTextIfExists, writeFileAtomic } from '../util/fs.js';
import { imageRefOf, listFiles } from '../deploy/state.js';

export const RELEASES_FILE = `${PROJECT_FILES.stateDir}/releases.json`;
export const RELEASES_DIR = `${PROJECT_FILES.stateDir}/releases`;
/** How many releases (and file copies) are kept: older ones are pruned on each new record. */
export const KEEP_RELEASES = 10;

export interface ReleaseFile {
  sha256: string;
  /** Executable bit (runtime/entrypoint.sh must stay executable when put back). */
  executable: boolean;
  /** Permission bits the file had (a 0600 clawdbot.json is put back 0600); absent in records of older versions. */
  mode?: number;
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

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

let recordSchema: Promise<ZodType> | undefined;

/** The schema of one record, built on first use (zod is loaded only by a command that reads releases). */
function releaseRecordSchema(): Promise<ZodType> {
  return (recordSchema ??= import('zod').then(({ z }) => {
    const file = z.strictObject({
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      executable: z.boolean(),
      mode: z.number().int().min(0).max(0o777).optional(),
    });

    return z.strictObject({
      version: z.string().regex(/^[A-Za-z0-9._-]+$/),
      imageRef: z.string(),
      image: z.string(),
      runtime: z.string().refine((id) => findRuntime(id) !== undefined, 'not a known gateway runtime'),
      files: z.record(z.string(), file),
      at: z.string(),
      kind: z.enum(['deploy', 'rollback', 'upgrade']),
      rolledBackTo: z.string().optional(),
      upgradedFrom: z.string().optional(),
      stateSnapshot: z.string().optional(),
      backup: z.string().nullable(),
    });
  }));
}

/**
 * `registry.fly.io/<app>` with a tag, a digest or both: the only images a release of this app can
 * name (what its own deploys pushed). Anything else in releases.json was not written by clawdfly.
 */
export function isAppImage(image: string, app: string): boolean {
  const prefix = `registry.fly.io/${app}`;
  if (!image.startsWith(prefix)) return false;
  const m = /^(?::([^@]+))?(?:@(.+))?$/.exec(image.slice(prefix.length));
  if (!m || (m[1] === undefined && m[2] === undefined)) return false;
  return (m[1] === undefined || TAG.test(m[1])) && (m[2] === undefined || DIGEST.test(m[2]));
}

/** The record's imageRef (state.ts imageRefOf): `<app>:<tag>@<digest>` from the machine's image_ref, or its config image. */
function isAppImageRef(imageRef: string, app: string): boolean {
  if (isAppImage(imageRef, app)) return true;
  const m = /^([^:@]+):([^@]*)@(.*)$/.exec(imageRef);
  if (!m || m[1] !== app || (!m[2] && !m[3])) return false;
  return (!m[2] || TAG.test(m[2])) && (!m[3] || DIGEST.test(m[3]));
}

/** The digest the machine reported for the release's image, when flyctl gave one. */
export function digestOf(record: Pick<ReleaseRecord, 'imageRef' | 'image'>): string | undefined {
  for (const ref of [record.imageRef, record.image]) {
    const digest = /@(sha256:[0-9a-f]{64})$/.exec(ref)?.[1];
    if (digest) return digest;
  }
  return undefined;
}

/** What `fly deploy --image` gets: the exact image by its digest when one is known, else the recorded tag. */
export function deployRefOf(record: ReleaseRecord, app: string): string {
  const digest = digestOf(record);
  return digest ? `registry.fly.io/${app}@${digest}` : record.image;
}

/** Why a record cannot be used (schema, or an image from outside this app's registry), or undefined. */
function recordProblem(schema: ZodType, raw: unknown, app: string): string | undefined {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `${issue?.path.join('.') || 'record'}: ${issue?.message ?? 'invalid'}`;
  }
  const r = parsed.data as ReleaseRecord;
  if (!isAppImage(r.image, app)) return `image ${JSON.stringify(r.image)} is not in registry.fly.io/${app}`;
  if (!isAppImageRef(r.imageRef, app)) return `imageRef ${JSON.stringify(r.imageRef)} is not an image of ${app}`;
  return undefined;
}

export class ReleasesRefusedError extends ClawdflyError {}

/**
 * The release history. A record that is not what clawdfly writes (a hand-edited or tampered file)
 * is refused with exit 2 before anything is deployed; `drop` (used when a deploy records a new
 * release) leaves such records out instead, so the rewritten file no longer holds them.
 */
export async function readReleases(dir: string, app: string, opts: { refused?: 'throw' | 'drop' } = {}): Promise<ReleaseHistory> {
  const text = await readTextIfExists(join(dir, RELEASES_FILE));
  let history: { version?: unknown; app?: unknown; releases?: unknown } | undefined;
  if (text) {
    try {
      history = JSON.parse(text) as typeof history;
    } catch {
      history = undefined; // unreadable: no history (rollback then says there is nothing to go back to)
    }
  }
  if (!history || history.version !== 1 || history.app !== app || !Array.isArray(history.releases)) return { version: 1, app, releases: [] };
  const releases: ReleaseRecord[] = [];
  const schema = history.releases.length > 0 ? await releaseRecordSchema() : undefined;
  for (const [i, raw] of history.releases.entries()) {
    const problem = recordProblem(schema!, raw, app);
    if (!problem) {
      releases.push(raw as ReleaseRecord);
      continue;
    }
    if (opts.refused === 'drop') continue;
    const version = typeof (raw as { version?: unknown })?.version === 'string' ? `v${(raw as { version: string }).version}` : `#${i + 1}`;
    throw new ReleasesRefusedError(`${RELEASES_FILE}: release ${version} is refused (${problem}); nothing was deployed`, {
      hint: `clawdfly writes that file itself: remove the record (or the file; the next clawdfly deploy records a new history) — a rollback only ever deploys an image of registry.fly.io/${app}`,
      code: 'release-refused',
      exitCode: 2,
    });
  }
  return { version: 1, app, releases };
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
    const mode = (await stat(abs)).mode & 0o777;
    files[file] = { sha256: sha256(await readFile(abs)), executable: (mode & 0o111) !== 0, mode };
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

/**
 * releases.json stays out of git in a project of any age: init's .gitignore lists it, and
 * `.clawdfly/.gitignore` does too (a project made before that line existed, or a .gitignore edited).
 */
async function ignoreHistoryInGit(dir: string): Promise<void> {
  const file = join(dir, PROJECT_FILES.stateDir, '.gitignore');
  const text = (await readTextIfExists(file)) ?? '';
  if (text.split(/\r?\n/).some((line) => line.trim() === '/releases.json' || line.trim() === 'releases.json')) return;
  const header = text ? '' : '# clawdfly: the release history is local (its copies in releases/ never go in git either)\n';
  await writeFile(file, `${text}${text && !text.endsWith('\n') ? '\n' : ''}${header}/releases.json\n`, { mode: 0o644 });
}

async function ensureReleasesDir(dir: string): Promise<string> {
  await ignoreHistoryInGit(dir);
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
  const history = await readReleases(project.dir, project.app, { refused: 'drop' });
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
  /** Permission bits now and as recorded, when they differ (the release's are put back). */
  mode?: { now?: number; then: number };
}

/** What putting the release's files back changes in the project (and the copy is intact). */
export async function fileChanges(project: Project, target: ReleaseRecord): Promise<FileChange[]> {
  const copyDir = copyDirOf(project.dir, target.version);
  const nowFiles = await hashLocalFiles(project);
  const changes: FileChange[] = [];
  for (const [file, meta] of Object.entries(target.files)) {
    const saved = await readFile(copyPathOf(copyDir, checkedKey(project, file))).catch(() => undefined);
    if (!saved || sha256(saved) !== meta.sha256) throw new Error(`the saved copy of ${file} for release v${target.version} is missing or altered (${join(RELEASES_DIR, target.version, file)})`);
    // what is put back: the saved copy, in the project's network mode as it is now
    const then = withNetworkMode(file, saved.toString('utf8'), project.exposure);
    const now = nowFiles[file];
    const mode = meta.mode !== undefined && now?.mode !== meta.mode ? { ...(now?.mode !== undefined ? { now: now.mode } : {}), then: meta.mode } : undefined;
    if (!now) changes.push({ path: file, change: 'create', then, ...(mode ? { mode } : {}) });
    else if (now.sha256 !== sha256(Buffer.from(then)) || now.executable !== meta.executable || mode) {
      changes.push({ path: file, change: 'update', now: await readFile(join(project.dir, file), 'utf8'), then, ...(mode ? { mode } : {}) });
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
    const saved = await readFile(copyPathOf(copyDir, checkedKey(project, c.path)), 'utf8');
    await writeFileAtomic(abs, withNetworkMode(c.path, saved, project.exposure), await modeToRestore(abs, meta));
  }
}

/**
 * A rollback never changes the network mode: going back to a release made while the app was public
 * must not make a private app public again (the next deploy, or CI's, would allocate public
 * addresses). The mode lives in answers.json (`network`) and in fly.toml's [http_service] block
 * (templates/fly.toml.tmpl `{{#public}}`/`{{#private}}`); those two files are put back in the mode
 * the project has now. Going public again is `clawdfly init --no-private` then `clawdfly deploy`.
 */
export function withNetworkMode(file: string, text: string, exposure: Exposure): string {
  if (file === PROJECT_FILES.answers) {
    let answers: Record<string, unknown>;
    try {
      answers = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return text;
    }
    if (exposureOf(answers as { network?: Exposure }) === exposure) return text;
    if (exposure === 'private') answers['network'] = 'private';
    else delete answers['network'];
    return JSON.stringify(answers, null, 2) + '\n';
  }
  if (file === PROJECT_FILES.flyToml) {
    const blocks = networkBlocks();
    const [from, to] = exposure === 'private' ? [blocks.public, blocks.private] : [blocks.private, blocks.public];
    if (from && to && text.includes(from)) return text.replace(from, to);
    // a fly.toml edited by hand: at least the redirect follows the mode
    return text.replace(/^(\s*force_https\s*=\s*)(true|false)\s*$/m, `$1${exposure === 'private' ? 'false' : 'true'}`);
  }
  return text;
}

/** fly.toml's public and private [http_service] lines, as the template writes them. */
function networkBlocks(): { public: string; private: string } {
  const template = readTemplate('fly.toml.tmpl');
  const block = (flag: string) => new RegExp(`\\{\\{#${flag}\\}\\}\\n([\\s\\S]*?)\\{\\{/${flag}\\}\\}`).exec(template)?.[1] ?? '';
  return { public: block('public'), private: block('private') };
}

/** The network mode the release was made in (its answers.json; public when it has none). */
export async function releaseExposure(project: Project, target: ReleaseRecord): Promise<Exposure> {
  if (!target.files[PROJECT_FILES.answers]) return 'public';
  const text = await readFile(copyPathOf(copyDirOf(project.dir, target.version), PROJECT_FILES.answers), 'utf8').catch(() => '');
  try {
    return exposureOf(JSON.parse(text) as { network?: Exposure });
  } catch {
    return 'public';
  }
}

/**
 * The fly.toml `fly deploy --image` gets for the release: its saved copy, or, when the release was
 * made in another network mode, that copy in the mode the project has now (written next to it).
 */
export async function releaseFlyTomlFor(project: Project, target: ReleaseRecord): Promise<string> {
  const saved = `${RELEASES_DIR}/${safeVersion(target.version)}/${PROJECT_FILES.flyToml}`;
  const text = await readFile(join(project.dir, saved), 'utf8').catch(() => undefined);
  if (text === undefined) return saved;
  const adjusted = withNetworkMode(PROJECT_FILES.flyToml, text, project.exposure);
  if (adjusted === text) return saved;
  const path = `${RELEASES_DIR}/${safeVersion(target.version)}/fly.${project.exposure}.toml`;
  await writeFileAtomic(join(project.dir, path), adjusted, 0o600);
  return path;
}

/**
 * The mode a file is put back with: the one recorded with the release (a 0600 clawdbot.json comes
 * back 0600, even where it was deleted since). A record of an older version has none: the file's
 * permissions now, with only the executable bit following the release.
 */
async function modeToRestore(abs: string, meta: ReleaseFile): Promise<number> {
  if (meta.mode !== undefined) return meta.mode;
  const previousMode = (await stat(abs).catch(() => undefined))?.mode;
  const base = previousMode !== undefined ? previousMode & 0o666 : 0o644;
  return meta.executable ? base | ((base & 0o444) >> 2) : base;
}

/** The saved copy of the release's gateway config (named by the release's runtime), as text. */
export async function releaseConfigText(project: Project, target: ReleaseRecord): Promise<string | undefined> {
  const config = findRuntime(target.runtime)?.configFileName ?? relative(project.dir, project.configPath).split(sep).join('/');
  if (!target.files[config]) return undefined;
  return readFile(join(copyDirOf(project.dir, target.version), config), 'utf8');
}
