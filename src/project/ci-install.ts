/**
 * What the CI workflow installs: exactly the clawdfly that ran `init`, verified. A small npm project
 * next to the workflow (`.github/clawdfly/package.json` + `package-lock.json`) pins clawdfly's
 * tarball with its integrity (or a git commit) and every dependency with theirs; the workflow runs
 * `npm ci` there, which refuses any byte that differs. `npx clawdfly@<version>` would install
 * whatever the registry serves under that name (or fail: a name nobody published), and hand it
 * FLY_API_TOKEN and the provider keys.
 *
 * The pin comes from the lockfile that installed the running clawdfly (npx's cache, a project's
 * node_modules), which records its tarball URL and integrity and its whole dependency tree. A
 * clawdfly that did not come from a registry (a git checkout, `npm link`, a local tarball) cannot
 * name a published source: `--clawdfly-spec` gives it (a registry version, a tarball URL with
 * `#<integrity>`, or a git commit), and the dependency tree still comes from the running install.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClawdflyError, UsageError } from '../errors.js';
import { clawdflyVersion } from '../util/version.js';
import type { Answers } from './answers.js';
import type { ProjectFile, RepoLayout } from './render.js';

/** The npm project the workflow installs from, relative to the repository root. */
export const CI_INSTALL_DIR = '.github/clawdfly';

interface LockNode {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  [key: string]: unknown;
}

interface Lockfile {
  packages?: Record<string, LockNode>;
}

/** Where the running clawdfly came from: its published source, and the dependency tree that installed it. */
interface Origin {
  version: string;
  /** The lockfile's entry for clawdfly and the others, keyed by path. */
  packages: Record<string, LockNode>;
  key: string;
  /** Set when that entry is a registry (or any https) tarball with its integrity. */
  published?: { resolved?: string; integrity: string };
}

const PACKAGE_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The lockfile that installed this package, and its key there ('' when this is the lock's own root: a checkout). */
export function runningOrigin(packageRoot = PACKAGE_ROOT): Origin | undefined {
  const parts = packageRoot.split(sep);
  const first = parts.indexOf('node_modules');
  const lockRoot = first < 0 ? packageRoot : parts.slice(0, first).join(sep) || sep;
  const key = relative(lockRoot, packageRoot).split(sep).join('/');
  for (const file of [join(lockRoot, 'node_modules', '.package-lock.json'), join(lockRoot, 'package-lock.json'), join(lockRoot, 'npm-shrinkwrap.json')]) {
    const packages = readJson<Lockfile>(file)?.packages;
    const node = packages?.[key];
    if (!packages || !node || node.link) continue;
    const version = node.version ?? clawdflyVersion();
    // npm leaves `resolved` out of a registry package's entry at times (it then means the registry's own URL)
    const published = key && node.integrity && (node.resolved === undefined || /^https?:\/\//.test(node.resolved)) ? { resolved: node.resolved, integrity: node.integrity } : undefined;
    return { version, packages, key, published };
  }
  return undefined;
}

/** The parent folder's path in a lockfile ('node_modules/a/node_modules/b' → 'node_modules/a'). */
function parentOf(path: string): string | undefined {
  if (!path) return undefined;
  const at = path.lastIndexOf('/node_modules/');
  return at < 0 ? '' : path.slice(0, at);
}

/** Node's resolution on lockfile paths: `name` as seen from the package at `from`. */
function resolveIn(packages: Record<string, LockNode>, from: string, name: string): string | undefined {
  for (let at: string | undefined = from; at !== undefined; at = parentOf(at)) {
    const candidate = at ? `${at}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return candidate;
  }
  return undefined;
}

/** clawdfly's own entry and its dependency closure, at the same paths (so they resolve the same way). */
function closure(origin: Origin): Record<string, LockNode> {
  const out: Record<string, LockNode> = {};
  const todo = [origin.key];
  const seen = new Set<string>();
  while (todo.length) {
    const path = todo.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const node = origin.packages[path]!;
    if (path !== origin.key) out[path] = withoutInstallFlags(node);
    const wanted = { ...node.dependencies, ...node.optionalDependencies, ...node.peerDependencies };
    for (const name of Object.keys(wanted)) {
      const found = resolveIn(origin.packages, path, name);
      if (found) todo.push(found);
      else if (!node.optionalDependencies?.[name] && !node.peerDependencies?.[name]) {
        throw new ClawdflyError(`the lockfile that installed clawdfly has no entry for its dependency ${name}`, { code: 'ci-lock-incomplete' });
      }
    }
  }
  return out;
}

function withoutInstallFlags(node: LockNode): LockNode {
  const { dev: _dev, devOptional: _devOptional, peer: _peer, extraneous: _extraneous, inBundle: _inBundle, ...rest } = node;
  return rest;
}

/** What `--clawdfly-spec` names, as a lockfile entry. */
export function parseSpec(spec: string, version: string, viewRegistry: (v: string) => { tarball: string; integrity: string }): { dependency: string; resolved: string; integrity?: string } {
  const tarball = /^(https?:\/\/\S+\.tgz)#(sha512-[A-Za-z0-9+/=]+)$/.exec(spec);
  if (tarball) return { dependency: tarball[1]!, resolved: tarball[1]!, integrity: tarball[2]! };
  const github = /^(?:github:)?([\w.-]+\/[\w.-]+)#([0-9a-f]{40})$/.exec(spec);
  if (github) return { dependency: `github:${github[1]}#${github[2]}`, resolved: `git+ssh://git@github.com/${github[1]}.git#${github[2]}` };
  const git = /^(git\+https:\/\/\S+)#([0-9a-f]{40})$/.exec(spec);
  if (git) return { dependency: spec, resolved: spec };
  if (/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) {
    if (spec !== version) {
      throw new UsageError(`--clawdfly-spec ${spec}: the workflow must run the clawdfly that wrote it, which is ${version}`, `--clawdfly-spec ${version}`, 'ci-spec-version');
    }
    const dist = viewRegistry(spec);
    return { dependency: spec, resolved: dist.tarball, integrity: dist.integrity };
  }
  throw new UsageError(
    `--clawdfly-spec ${spec}: not a registry version, a tarball URL with its integrity, or a git commit`,
    `--clawdfly-spec ${version}  |  https://host/clawdfly-${version}.tgz#sha512-…  |  github:owner/clawdfly#<40-hex commit>`,
    'ci-spec-invalid',
  );
}

/** `npm view clawdfly@<v> dist --json`: the registry's tarball URL and integrity (npm's own config picks the registry). */
function viewRegistry(version: string): { tarball: string; integrity: string } {
  let text: string;
  try {
    text = execFileSync('npm', ['view', `clawdfly@${version}`, 'dist', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (error) {
    throw new ClawdflyError(`npm view clawdfly@${version} failed: the registry does not have it (or cannot be reached)`, {
      hint: 'publish it first, or pass --clawdfly-spec <tarball URL>#<integrity> or a git commit',
      code: 'ci-spec-unpublished',
      evidence: String((error as { stderr?: string }).stderr ?? '').trim().split('\n').slice(-2),
    });
  }
  const dist = JSON.parse(text) as { tarball?: string; integrity?: string };
  if (!dist.tarball || !dist.integrity) throw new ClawdflyError(`the registry's clawdfly@${version} has no integrity to pin`, { code: 'ci-spec-no-integrity' });
  return { tarball: dist.tarball, integrity: dist.integrity };
}

export interface CiInstallFiles {
  packageJson: string;
  lock: string;
  /** What the workflow installs, in words (registry version, tarball, commit). */
  pinned: string;
}

/**
 * The two files of `.github/clawdfly/`, or a refusal (exit 2, nothing written) that says the
 * workflow needs a published clawdfly and which flag gives one.
 */
export function ciInstallFiles(spec: string | undefined, origin = runningOrigin()): CiInstallFiles {
  const version = origin?.version ?? clawdflyVersion();
  if (!origin) {
    throw new ClawdflyError(`no lockfile records how this clawdfly (${PACKAGE_ROOT}) was installed, so the workflow cannot pin its dependencies`, {
      hint: 'run init --github-actions from clawdfly installed by npm (npx clawdfly@<version>, or npm install)',
      code: 'ci-no-lock',
    });
  }
  let source: { dependency: string; resolved?: string; integrity?: string };
  if (spec !== undefined) source = parseSpec(spec.trim(), version, viewRegistry);
  else if (origin.published) source = { dependency: version, ...origin.published };
  else {
    throw new UsageError(
      `the CI workflow installs clawdfly from a published source, and this clawdfly (${PACKAGE_ROOT}) did not come from a registry: name the one to install`,
      `clawdfly init --github-actions --clawdfly-spec <registry version ${version} | tarball URL#sha512-… | github:owner/repo#<commit>>`,
      'ci-needs-published-clawdfly',
    );
  }
  const own = withoutInstallFlags(origin.packages[origin.key]!);
  const { name: _name, devDependencies: _dev, license, bin, engines, dependencies, optionalDependencies, peerDependencies } = own as LockNode & { name?: string; devDependencies?: unknown };
  const clawdfly: LockNode = { version, ...(source.resolved ? { resolved: source.resolved } : {}), ...(source.integrity ? { integrity: source.integrity } : {}), license, dependencies, optionalDependencies, peerDependencies, bin, engines };
  for (const k of Object.keys(clawdfly)) if (clawdfly[k] === undefined) delete clawdfly[k];
  const packages: Record<string, LockNode> = {
    '': { name: 'clawdfly-ci', dependencies: { clawdfly: source.dependency } },
    'node_modules/clawdfly': clawdfly,
  };
  // From a checkout (key ''), its dependencies sit at node_modules/x: where clawdfly at node_modules/clawdfly finds them too.
  Object.assign(packages, closure(origin));
  const packageJson = `${JSON.stringify({ name: 'clawdfly-ci', private: true, description: 'The clawdfly the deploy workflow installs (npm ci checks every integrity in package-lock.json). Written by clawdfly init --github-actions.', dependencies: { clawdfly: source.dependency } }, null, 2)}\n`;
  const lock = `${JSON.stringify({ name: 'clawdfly-ci', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`;
  return { packageJson, lock, pinned: `clawdfly ${version} (${[source.resolved ?? 'the registry', source.integrity?.slice(0, 19)].filter(Boolean).join(', ')})` };
}

/**
 * `.github/clawdfly/` beside the workflow: what its install step pins. Computed before anything is
 * written (init and upgrade), so a clawdfly that cannot name a published source is refused with
 * nothing half-written. Without a spec, a clawdfly not from a registry keeps the pin that is there;
 * one from a registry pins itself, the clawdfly that renders the workflow.
 */
export function ciInstallPlan(dir: string, answers: Pick<Answers, 'ci'>, layout: RepoLayout, spec: string | undefined, origin = runningOrigin()): ProjectFile[] {
  if (answers.ci !== 'github-actions') return [];
  const base = layout.workflowPath.replace(/\.github\/workflows\/[^/]+$/, '') + CI_INSTALL_DIR;
  if (spec === undefined && !origin?.published && existsSync(join(dir, base, 'package-lock.json'))) return [];
  const files = ciInstallFiles(spec, origin);
  return [
    { path: `${base}/package.json`, content: files.packageJson },
    { path: `${base}/package-lock.json`, content: files.lock },
  ];
}
