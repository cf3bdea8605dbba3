/**
 * A deployed test project against the flyctl double: `init --yes` (real CLI), then
 * `flyctl apps create` + `flyctl deploy` through the double itself, so the machine, its /data
 * volume and the first clawdbot.json come from the same code paths users hit.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error plain ESM without types
import { createFakeFly } from '../fakefly/control.mjs';
import { initProject, runCli, type CliResult } from '../helpers/cli.js';
import { flySetup } from '../support/fly-setup.js';

export const APP = 'test-claw';
export const STATE_DIR = '/data';
export const REMOTE_CONFIG = `${STATE_DIR}/clawdbot.json`;

export interface Invocation {
  argv: string[];
  exitCode: number;
  stdin: { bytes: number };
}

export interface Fake {
  dir: string;
  env: Record<string, string>;
  invocations(): Invocation[];
  restarts(machineId?: string): number;
  machines(app: string): { id: string; state: string }[];
  seedLogs(app: string, lines: string[], opts?: { machineId?: string }): void;
  machineFsPath(app: string, machineId: string, path: string): string;
  cleanup(): void;
}

export interface Deployed {
  fake: Fake;
  dir: string;
  machineId: string;
  env: Record<string, string>;
  /** Host path of a file inside the machine. */
  remotePath(path?: string): string;
  remoteText(): string | undefined;
  localPath: string;
  cli(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
}


export async function deployedProject(initFlags: string[] = [], initEnv: Record<string, string> = {}, fakeEnv: Record<string, string> = {}): Promise<Deployed> {
  const fake = createFakeFly({ env: fakeEnv }) as Fake;
  // logs --no-tail on an empty buffer: answer "nothing" at once instead of hanging until our timeout
  fake.env['FAKEFLY_LOGS_EMPTY_EXIT'] = '1';
  const dir = await initProject(initFlags, initEnv);
  // the user's own set-up calls, in this process (no process start for each)
  await flySetup(fake.env, ['apps', 'create', APP], { cwd: dir });
  await flySetup(fake.env, ['deploy', '-a', APP, '-c', 'fly.toml', '--ha=false', '--remote-only', '-y'], { cwd: dir });
  const [machine] = fake.machines(APP);
  if (!machine) throw new Error('the double created no machine');
  const machineId = machine.id;
  const remotePath = (p = REMOTE_CONFIG) => fake.machineFsPath(APP, machineId, p);
  const localPath = join(dir, 'clawdbot.json');
  return {
    fake,
    dir,
    machineId,
    env: fake.env,
    remotePath,
    remoteText: () => (existsSync(remotePath()) ? readFileSync(remotePath(), 'utf8') : undefined),
    localPath,
    cli: (args, extraEnv = {}) => runCli([...args, '--dir', dir], { env: { ...fake.env, ...extraEnv } }),
  };
}

/** Put a config on the machine as if the gateway had it there (mode 0600, like the gateway writes). */
export function putRemote(d: Deployed, text: string): void {
  writeFileSync(d.remotePath(), text, { mode: 0o600 });
}

export function editLocal(d: Deployed, edit: (config: Record<string, any>) => void): string {
  const config = JSON.parse(readFileSync(d.localPath, 'utf8'));
  edit(config);
  const text = JSON.stringify(config, null, 2) + '\n';
  writeFileSync(d.localPath, text);
  return text;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

/** Files in the machine's state dir. */
export function stateDirFiles(d: Deployed): string[] {
  return readdirSync(d.remotePath(STATE_DIR)).sort();
}

export function backups(d: Deployed): string[] {
  return stateDirFiles(d).filter((f) => /^clawdbot\.json\.\d{8}T\d+Z\.bak$/.test(f));
}

/** ssh console -C commands the CLI ran (from the double's invocation log). */
export function sshCommands(d: Deployed): string[] {
  return d.fake.invocations().filter((i) => i.argv[0] === 'ssh').map((i) => i.argv[i.argv.indexOf('-C') + 1] ?? '');
}

/**
 * Plays the gateway's file watcher: once the machine's config equals `expected`, the gateway
 * "notices" and logs `lines` (the real wording, gateway.md §5.1). Resolves when it has logged.
 */
export async function gatewayReactsTo(d: Deployed, expected: string, lines: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (d.remoteText() === expected) {
      await new Promise((r) => setTimeout(r, 300)); // the gateway's reload debounce
      const now = new Date().toISOString();
      d.fake.seedLogs(APP, lines.map((l) => `${now} ${l}`), { machineId: d.machineId });
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the pushed file never appeared on the machine');
}

/** What the gateway makes of a config when it starts (gateway.md §5.1): meta first, defaults materialized, plugins enabled. */
export function gatewayRewrite(text: string): string {
  const config = JSON.parse(text) as Record<string, any>;
  const { meta: _meta, ...rest } = config;
  const out: Record<string, any> = { meta: { lastTouchedVersion: '2026.1.24-3', lastTouchedAt: '2026-11-24T05:57:30.588Z' }, ...rest };
  out['agents'] ??= {};
  out['agents'].defaults ??= {};
  out['agents'].defaults.subagents ??= { maxConcurrent: 8 };
  out['commands'] ??= { native: 'auto', nativeSkills: 'auto' };
  out['messages'] ??= { ackReactionScope: 'group-mentions' };
  const channels = Object.keys(out['channels'] ?? {});
  if (channels.length) out['plugins'] = { entries: Object.fromEntries(channels.map((c) => [c, { enabled: true }])) };
  return JSON.stringify(out, null, 2) + '\n';
}
