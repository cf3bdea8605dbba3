/**
 * Runs the real CLI binary (bin/clawdfly.js → dist/) as a user would, and checks every byte it
 * printed for every secret value the test knows about: a leak fails the test that caused it.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BIN = join(ROOT, 'bin', 'clawdfly.js');

/**
 * Fake secret values used across the suite. Shaped like real ones but not matching any real
 * key format, so no scanner mistakes them for leaked credentials.
 */
export const TEST_SECRETS = {
  ANTHROPIC_API_KEY: 'test-anthropic-7f3a9c1e5b2d4f60a8e1',
  OPENAI_API_KEY: 'test-openai-2b8d6e4f1a3c5e7092bd',
  GEMINI_API_KEY: 'test-gemini-9e1c3a5b7d2f4a6c8e0b',
  DEEPSEEK_API_KEY: 'test-deepseek-4d2b8f6a0c1e3a5b7d9f',
  DISCORD_BOT_TOKEN: 'test-discord.5d7f9b1c3e.2a4c6e8f0b1d3f5a7c9e',
  TELEGRAM_BOT_TOKEN: '123456789:test-telegram-AAHf8d6c4b2a0e9f7d5c',
  /** Characters that break naive quoting, escaping and line-based scans: `"`, `\`, `#`, `'`, a newline. */
  QUOTED_SECRET: 'test-quo"te\\back#hash\'sq-4c1e9a7b',
  MULTILINE_SECRET: 'test-multi-line-8a2b6e\nsecond-line-7c3d5f',
} as const;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  /** Extra secret values that must not appear in the output. */
  secrets?: string[];
  timeoutMs?: number;
  /** Run as `npx clawdfly …` does (npm_command=exec). */
  viaNpx?: boolean;
  /** Another clawdfly's bin (one npm installed), instead of this checkout's. */
  bin?: string;
}

/** Secret values of a project dir (its .clawdfly/secrets.env), if any. */
export function projectSecrets(dir: string): string[] {
  const file = join(dir, '.clawdfly', 'secrets.env');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l))
    // where the off-site bucket is: settings, not secrets (src/project/secrets.ts NOT_SECRET_NAMES)
    .filter((l) => !/^(BUCKET_NAME|AWS_ENDPOINT_URL_S3|AWS_REGION)=/.test(l))
    .map((l) => {
      const raw = l.slice(l.indexOf('=') + 1).trim();
      try {
        return raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
      } catch {
        return raw.replace(/^"|"$/g, '');
      }
    })
    .filter((v) => v.length >= 6);
}

function dirArg(args: string[], cwd: string): string {
  const i = args.indexOf('--dir');
  return i >= 0 && args[i + 1] ? resolve(cwd, args[i + 1]!) : cwd;
}

export function assertNoSecrets(text: string, secrets: Iterable<string>, where: string): void {
  for (const secret of secrets) {
    if (secret && text.includes(secret)) {
      throw new Error(`secret leaked in ${where}: a value starting ${secret.slice(0, 4)}… appeared in the output`);
    }
  }
}

/** The environment of one CLI run: the test's, plain output, CI, and what the test adds. */
function cliEnv(opts: CliOptions): Record<string, string> {
  // English unless a test asks for a language: the wizard and doctor follow LC_ALL / LC_MESSAGES / LANG.
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', CI: 'true', LC_ALL: undefined, LC_MESSAGES: undefined, LANG: 'C.UTF-8', ...opts.env };
  // npm sets npm_command=exec for npx: hints then say `npx clawdfly`. Only a test that asks gets it
  // (the suite itself may have been started with `npx vitest`).
  env['npm_command'] = opts.viaNpx ? 'exec' : undefined;
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  return env as Record<string, string>;
}

/**
 * What every run ends with, in-process or not: its secret values and output registered for the
 * suite-wide scan (test/global-setup.ts), and a leak in its output fails the test that caused it.
 */
function settle(args: string[], cwd: string, opts: CliOptions, stdout: string, stderr: string): void {
  const known = new Set([...Object.values(TEST_SECRETS), ...(opts.secrets ?? []), ...projectSecrets(dirArg(args, cwd))]);
  const runDir = process.env['CLAWDFLY_TEST_RUN_DIR'];
  // One JSON string per line (values may hold newlines), and every byte this run printed.
  if (runDir) {
    appendFileSync(join(runDir, 'secrets.jsonl'), [...known].map((v) => JSON.stringify(v)).join('\n') + '\n');
    appendFileSync(join(runDir, 'outputs.jsonl'), JSON.stringify({ args: args.slice(0, 3), stdout, stderr }) + '\n');
  }
  assertNoSecrets(stdout, known, `stdout of clawdfly ${args.join(' ')}`);
  assertNoSecrets(stderr, known, `stderr of clawdfly ${args.join(' ')}`);
}

let inProcessByDefault = false;

/**
 * From now on (in this test file), runCli runs clawdfly in the test's own process (runCliInProcess)
 * whenever the run needs no stdin: no process start for the CLI or for its non-streaming flyctl
 * calls. Call it at the top of a file whose tests need no real process. CLAWDFLY_TEST_SUBPROCESS=1
 * turns it off (every run a real process again: to compare, or to rule the in-process runner out).
 */
export function useInProcessCli(on = true): void {
  inProcessByDefault = on && process.env['CLAWDFLY_TEST_SUBPROCESS'] !== '1';
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  if (inProcessByDefault && opts.input === undefined) return runCliInProcess(args, opts);
  const cwd = opts.cwd ?? process.cwd();
  const started = Date.now();
  const env = cliEnv(opts);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], { cwd, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timeoutMs = opts.timeoutMs ?? 120_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      // A hung CLI killed here would otherwise look like exit 1, which is exactly what the
      // failure-path tests expect: a timeout must fail the test as a timeout instead.
      if (timedOut) {
        reject(new Error(`clawdfly ${args.join(' ')} did not exit within ${timeoutMs} ms (killed); stderr so far:\n${stderr.slice(-2000)}`));
        return;
      }
      try {
        settle(args, cwd, opts, stdout, stderr);
      } catch (error) {
        reject(error);
        return;
      }
      resolvePromise({ code: code ?? 1, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Text written to a stream, collected. */
function collector(): { write(text: string): boolean; text(): string } {
  let text = '';
  return {
    write(chunk: string) {
      text += chunk;
      return true;
    },
    text: () => text,
  };
}

/**
 * clawdfly in this process: src/cli.ts's runCli(argv, io) with the run's environment in
 * process.env (restored afterwards), its output collected, and its flyctl calls carried by the
 * double's state machine in this process where they need no real process (test/fakefly/lib/
 * in-process.mjs). Same result and the same secret checks as a run of bin/clawdfly.js. Runs one at
 * a time, queued (process.env and the working folder are the process's; describe.concurrent
 * tests take turns).
 */
export function runCliInProcess(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const turn = inProcessQueue.then(() => runCliInProcessNow(args, opts));
  inProcessQueue = turn.catch(() => undefined);
  return turn;
}

let inProcessQueue: Promise<unknown> = Promise.resolve();

async function runCliInProcessNow(args: string[], opts: CliOptions): Promise<CliResult> {
  const [{ runCli: run }, { useFlyTransport }, fakefly] = await Promise.all([
    import('../../src/cli.js'),
    import('../../src/fly/run.js'),
    // @ts-expect-error plain ESM without types
    import('../fakefly/lib/in-process.mjs'),
  ]);
  const cwd = opts.cwd ?? process.cwd();
  const started = Date.now();
  const saved = { ...process.env };
  const savedCwd = process.cwd();
  const env = cliEnv(opts);
  for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
  Object.assign(process.env, env);
  process.chdir(cwd);
  useFlyTransport({
    run: (argv, call) => (fakefly.runsInProcess(argv, call.env) ? fakefly.runFakeflyInProcess(argv, call) : undefined),
  });
  const stdout = collector();
  const stderr = collector();
  let code: number;
  try {
    code = await run(args, { stdout, stderr });
  } finally {
    // A process runs one command and ends; here the next run starts where this one left the
    // language (cli.ts loads a catalog only for a language other than English).
    await (await import('../../src/i18n/index.js')).useLocale('en');
    useFlyTransport(undefined);
    process.chdir(savedCwd);
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
  settle(args, cwd, opts, stdout.text(), stderr.text());
  return { code, stdout: stdout.text(), stderr: stderr.text(), ms: Date.now() - started };
}

export function tempDir(prefix = 'clawdfly-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A project written by the real `init --yes`, with test secrets in the environment. The tests using
 * it were written for the seed's clawdbot project: without a `--runtime` flag it is that one
 * (`--runtime clawdbot`), not init's default (OpenClaw).
 */
export async function initProject(flags: string[] = [], env: Record<string, string | undefined> = {}): Promise<string> {
  const dir = join(tempDir(), 'gateway');
  const runtime = flags.includes('--runtime') ? [] : ['--runtime', 'clawdbot'];
  const result = await runCli(['init', '--yes', '--dir', dir, '--app', 'test-claw', '--region', 'iad', ...runtime, ...flags], {
    env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY, OPENAI_API_KEY: TEST_SECRETS.OPENAI_API_KEY, ...env },
  });
  if (result.code !== 0) throw new Error(`init failed (${result.code}): ${result.stderr}`);
  return dir;
}
