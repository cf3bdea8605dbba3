/**
 * A gateway deployed on the flyctl double the way a user gets there (`init --yes`, `apps create`,
 * `secrets import`, `deploy`), and a runner for the operate commands against it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error plain ESM without types
import { createFakeFly } from '../fakefly/control.mjs';
import { assertNoSecrets, BIN, initProject, projectSecrets, runCli, TEST_SECRETS, type CliResult } from '../helpers/cli.js';
import { flySetup } from '../support/fly-setup.js';

export const APP = 'test-claw';

export interface MachineApi {
  id: string;
  state: string;
  config: { init?: { cmd?: string[] }; env?: Record<string, string>; guest?: { memory_mb?: number }; mounts?: { volume?: string }[] };
}

export interface Fake {
  dir: string;
  env: Record<string, string>;
  invocations(): { argv: string[]; exitCode: number; stdin: { hadData: boolean } }[];
  restartLog(): { machine: string; reason: string }[];
  machines(app: string): MachineApi[];
  machineEnv(app: string, machineId: string): Record<string, string>;
  secrets(app: string): Record<string, string>;
  clawdbotCalls(): { machine: string; argv: string[] }[];
  sshCommands(): { machine: string; command: string; exitCode: number }[];
  seedLogs(app: string, lines: (string | { message: string; timestamp?: string; level?: string })[], opts?: { machineId?: string }): void;
  addExitEvent(app: string, machineId: string, ev: Record<string, unknown>): void;
  setMachine(app: string, machineId: string, patch: Record<string, unknown>): void;
  setDevices(app: string, machineId: string, devices: { pending?: unknown[]; paired?: unknown[] }): void;
  machineFsPath(app: string, machineId: string, path: string): string;
  cleanup(): void;
}

export interface Deployment {
  dir: string;
  fake: Fake;
  machineId: string;
  fly(args: string[], input?: string): string;
  /** The real binary with the double first on PATH, in the project dir. */
  cli(args: string[], opts?: { env?: Record<string, string>; input?: string }): Promise<CliResult>;
  /** flyctl invocations made since `mark()`. */
  since(mark: number): string[][];
  mark(): number;
}

const created: Fake[] = [];
export function cleanupAll(): void {
  for (const f of created.splice(0)) f.cleanup();
}

export async function deployed(opts: { init?: string[]; initEnv?: Record<string, string>; deploy?: boolean } = {}): Promise<Deployment> {
  const dir = await initProject(opts.init ?? [], opts.initEnv ?? {});
  const fake = createFakeFly({ env: { FAKEFLY_LOGS_EMPTY_EXIT: '1' } }) as Fake;
  created.push(fake);
  const fly = (args: string[], input?: string): string => {
    const r = spawnSync('flyctl', args, { cwd: dir, env: fake.env, input: input ?? '', encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`flyctl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  let machineId = '';
  if (opts.deploy !== false) {
    // the user's own set-up calls, in this process (no process start for each)
    await flySetup(fake.env, ['apps', 'create', APP], { cwd: dir });
    const secrets = readFileSync(join(dir, '.clawdfly', 'secrets.env'), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).join('\n') + '\n';
    await flySetup(fake.env, ['secrets', 'import', '-a', APP], { cwd: dir, input: secrets });
    await flySetup(fake.env, ['deploy', '-a', APP, '-c', 'fly.toml', '--ha=false', '--remote-only', '-y'], { cwd: dir });
    machineId = fake.machines(APP)[0]!.id;
  }
  return {
    dir,
    fake,
    machineId,
    fly,
    cli: (args, o = {}) => {
      // --dir goes before a `--` (after it, words belong to the remote command).
      const dash = args.indexOf('--');
      const argv = dash >= 0 ? [...args.slice(0, dash), '--dir', dir, ...args.slice(dash)] : [...args, '--dir', dir];
      return runCli(argv, { cwd: dir, env: { ...fake.env, ...(o.env ?? {}) }, input: o.input });
    },
    mark: () => fake.invocations().length,
    since: (mark) => fake.invocations().slice(mark).map((i) => i.argv),
  };
}

/** The gateway token as the project holds it. */
export function gatewayToken(dir: string): string {
  const line = readFileSync(join(dir, '.clawdfly', 'secrets.env'), 'utf8').split('\n').find((l) => l.startsWith('CLAWDBOT_GATEWAY_TOKEN='));
  if (!line) throw new Error('no gateway token in secrets.env');
  return JSON.parse(line.slice(line.indexOf('=') + 1)) as string;
}

/**
 * Starts the real binary and stops it with SIGINT once `until` matches its stdout (for commands
 * that never end by themselves, like `logs --follow`). Output is checked for secrets like runCli.
 */
export function runUntil(args: string[], opts: { cwd: string; env: Record<string, string>; until: RegExp; timeoutMs?: number; secrets?: string[] }): Promise<CliResult & { matched: boolean }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...opts.env, NO_COLOR: '1', CI: 'true' }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    let matched = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!matched && opts.until.test(stdout)) {
        matched = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        const known = [...Object.values(TEST_SECRETS), ...projectSecrets(opts.cwd), ...(opts.secrets ?? [])];
        assertNoSecrets(stdout, known, `stdout of clawdfly ${args.join(' ')}`);
        assertNoSecrets(stderr, known, `stderr of clawdfly ${args.join(' ')}`);
      } catch (error) {
        reject(error);
        return;
      }
      resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : 1), stdout, stderr, ms: Date.now() - started, matched });
    });
  });
}

/** Runs the real binary; every known secret except `allow` must stay out of its output. */
export function runAllowing(args: string[], opts: { cwd: string; env: Record<string, string>; allow: string[] | (() => string[]); input?: string }): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...opts.env, NO_COLOR: '1', CI: 'true' }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(opts.input ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        // Evaluated after the run: a rotated token is only known then.
        const allow = typeof opts.allow === 'function' ? opts.allow() : opts.allow;
        const known = [...Object.values(TEST_SECRETS), ...projectSecrets(opts.cwd)].filter((s) => !allow.includes(s));
        assertNoSecrets(stdout, known, `stdout of clawdfly ${args.join(' ')}`);
        assertNoSecrets(stderr, [...known, ...allow], `stderr of clawdfly ${args.join(' ')}`);
      } catch (error) {
        reject(error);
        return;
      }
      resolve({ code: code ?? 1, stdout, stderr, ms: Date.now() - started });
    });
  });
}
