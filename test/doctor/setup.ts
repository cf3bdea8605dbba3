/**
 * A deployed gateway on the flyctl double, built the way a user gets there: `init --yes`, then
 * `apps create`, `secrets import`, `deploy` (boot log lines on), then the config written to the
 * machine's volume. Scenarios then put the double into one faulty state and run the real binary.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
// @ts-expect-error plain ESM without types
import { createFakeFly } from '../fakefly/control.mjs';
import { initProject, ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { flySetup } from '../support/fly-setup.js';

export const APP = 'test-claw';
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'gateway-logs');

/** The real gateway's output (test/fixtures/gateway-logs/<name>, copied from the shared evidence), one string per line. */
export function fixtureLines(name: string): string[] {
  return readFileSync(join(FIXTURES, name), 'utf8').split('\n').filter((l) => l.trim() !== '');
}

export interface MachineApi {
  id: string;
  state: string;
  config: { init?: { cmd?: string[] }; env?: Record<string, string>; guest?: { memory_mb?: number }; restart?: { policy?: string } };
}

export interface Fake {
  dir: string;
  env: Record<string, string>;
  invocations(): { argv: string[] }[];
  restarts(machineId?: string): number;
  machines(app: string): MachineApi[];
  secrets(app: string): Record<string, string>;
  seedLogs(app: string, lines: (string | { message: string; timestamp?: string })[], opts?: { machineId?: string }): void;
  addExitEvent(app: string, machineId: string, ev: Record<string, unknown>): void;
  setMachine(app: string, machineId: string, patch: Record<string, unknown>): void;
  setDevices(app: string, machineId: string, devices: { pending?: unknown[]; paired?: unknown[] }): void;
  machineFsPath(app: string, machineId: string, path: string): string;
  gatewayPid(app: string, machineId: string): number | null;
  setAuth(mode: string): void;
  cleanup(): void;
}

export interface DoctorJson {
  ok: boolean;
  machine?: string;
  checks: { id: string; status: string; summary: string; evidence: string[]; fix: string | null }[];
  probes: Record<string, { ok: boolean; ms: number; error?: string; timedOut?: boolean; lines?: number }>;
  wallMs: number;
  fixes?: { checks: string[]; kind: string; steps: string[]; outcome: string; note?: string }[];
}

export interface Deployment {
  dir: string;
  fake: Fake;
  machineId: string;
  /** Runs flyctl (the double) in the project dir, as a user would; throws on failure. */
  fly(args: string[], input?: string): string;
  doctor(args?: string[], env?: Record<string, string>): Promise<CliResult & { json?: DoctorJson }>;
  writeRemote(path: string, text: string): void;
  remotePath(path: string): string;
  flyToml(): string;
  machine(): MachineApi;
}

export interface DeployOptions {
  /** Edit fly.toml before the first deploy (the faulty config the user wrote). */
  flyToml?: (text: string) => string;
  /** Edit the local clawdbot.json before it is written to the machine. */
  config?: (value: Record<string, unknown>) => Record<string, unknown>;
  /** Leave /data/clawdbot.json off the machine. */
  noRemoteConfig?: boolean;
  /** Deploy without the boot log lines (an empty log buffer). */
  noBootLogs?: boolean;
  env?: Record<string, string>;
  /** Flags for `init --yes` (e.g. --runtime). */
  initFlags?: string[];
}

const created: Fake[] = [];
export function cleanupAll(): void {
  for (const f of created.splice(0)) f.cleanup();
}

export async function deployed(opts: DeployOptions = {}): Promise<Deployment> {
  const dir = await initProject(opts.initFlags ?? []);
  const fake = createFakeFly({ env: { ...(opts.noBootLogs ? {} : { FAKEFLY_BOOT_LOGS: '1' }), ...(opts.env ?? {}) } }) as Fake;
  created.push(fake);
  const fly = (args: string[], input?: string): string => {
    const r = spawnSync('flyctl', args, { cwd: dir, env: fake.env, input: input ?? '', encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`flyctl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const tomlPath = join(dir, 'fly.toml');
  if (opts.flyToml) writeFileSync(tomlPath, opts.flyToml(readFileSync(tomlPath, 'utf8')));
  const configPath = join(dir, 'clawdbot.json');
  if (opts.config) writeFileSync(configPath, JSON.stringify(opts.config(JSON.parse(readFileSync(configPath, 'utf8'))), null, 2) + '\n');

  // the user's own set-up calls, in this process (no process start for each)
  await flySetup(fake.env, ['apps', 'create', APP], { cwd: dir });
  const secrets = readFileSync(join(dir, '.clawdfly', 'secrets.env'), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).join('\n') + '\n';
  await flySetup(fake.env, ['secrets', 'import', '-a', APP], { cwd: dir, input: secrets });
  await flySetup(fake.env, ['deploy', '-a', APP, '-c', 'fly.toml', '--ha=false', '--remote-only', '-y'], { cwd: dir });
  const machineId = fake.machines(APP)[0]!.id;
  const remotePath = (p: string) => fake.machineFsPath(APP, machineId, p);
  const writeRemote = (p: string, text: string) => {
    mkdirSync(dirname(remotePath(p)), { recursive: true });
    writeFileSync(remotePath(p), text, { mode: 0o600 });
  };
  if (!opts.noRemoteConfig) writeRemote('/data/clawdbot.json', readFileSync(configPath, 'utf8'));
  return {
    dir,
    fake,
    machineId,
    fly,
    writeRemote,
    remotePath,
    flyToml: () => readFileSync(tomlPath, 'utf8'),
    machine: () => fake.machines(APP).find((m) => m.id === machineId)!,
    async doctor(args = ['--json'], env = {}) {
      const result = await runCli(['doctor', '--dir', dir, ...args], { env: { ...fake.env, ...env }, timeoutMs: 240_000 });
      let json: DoctorJson | undefined;
      if (args.includes('--json')) {
        try {
          json = JSON.parse(result.stdout) as DoctorJson;
        } catch {
          throw new Error(`doctor --json printed no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
        }
      }
      return { ...result, json };
    },
  };
}

export function check(json: DoctorJson | undefined, id: string) {
  const found = json?.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in ${JSON.stringify(json)}`);
  return found;
}

export function failing(json: DoctorJson | undefined): string[] {
  return (json?.checks ?? []).filter((c) => c.status === 'fail').map((c) => c.id);
}

export function notOk(json: DoctorJson | undefined): string[] {
  return (json?.checks ?? []).filter((c) => c.status !== 'ok' && c.status !== 'skip').map((c) => `${c.id}:${c.status}`);
}

export { existsSync };
