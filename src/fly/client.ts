/**
 * Typed flyctl operations for one app. Every call goes through FlyctlRunner (argv arrays,
 * timeouts, redaction); secrets travel on stdin only.
 */
import { locateFlyctl } from './locate.js';
import { failureOf, FlyctlRunner, type RunResult, type TransferOptions, type TransferResult } from './run.js';
import { FlyAppNotFoundError, FlyctlTooOldError, FlyRemoteExitError } from './errors.js';
import { parseConcatenatedJson, parseJson, type IpAddress, type LogEntry, type Machine, type SecretInfo, type Volume } from './json.js';
import { remoteCommand } from './quote.js';
import { parseStorageCredentials, storageCreateFailure, type StorageCredentials } from './storage.js';
import { registerSecrets } from '../ui/redact.js';
import { compareVersions } from '../util/version.js';
import type { z } from 'zod';
import type * as S from './schemas.js';

export type Snapshot = z.infer<typeof S.SnapshotSchema>;

let schemas: Promise<typeof S> | undefined;
/** flyctl's answer schemas (zod), loaded on the first parse: a command that never parses one does not load zod. */
export function flySchemas(): Promise<typeof S> {
  return (schemas ??= import('./schemas.js'));
}

/** Older flyctl loses the tail of `ssh console` output (PR #5045). */
export const MIN_FLYCTL_VERSION = '0.4.80';

export const TIMEOUTS = {
  quick: 30_000,
  default: 120_000,
  /** `logs --no-tail` hangs forever on an empty log buffer (flyctl.md §2.8): an empty answer, not an error. */
  logs: 15_000,
  ssh: 90_000,
  deploy: 20 * 60_000,
  machineWait: 6 * 60_000,
} as const;

export interface MachineChange {
  vmSize?: string;
  memoryMb?: number;
  command?: string;
  env?: Record<string, string>;
}

export interface FlyClientOptions {
  flyctl?: string;
  app: string;
}

export class FlyClient {
  readonly runner: FlyctlRunner;
  readonly app: string;
  private versionChecked?: Promise<string>;

  constructor(options: FlyClientOptions) {
    this.runner = new FlyctlRunner(locateFlyctl(options.flyctl));
    this.app = options.app;
  }

  private a(): string[] {
    return ['-a', this.app];
  }

  /** `flyctl version --json`, checked once per process. */
  ensureVersion(): Promise<string> {
    this.versionChecked ??= (async () => {
      const result = await this.runner.run(['version', '--json'], { timeoutMs: TIMEOUTS.quick });
      const { version } = parseJson((await flySchemas()).VersionSchema, result.stdout, 'version', { caseInsensitive: true });
      if (compareVersions(version, MIN_FLYCTL_VERSION) < 0) {
        throw new FlyctlTooOldError(`flyctl ${version} is too old: clawdfly needs ${MIN_FLYCTL_VERSION} or newer (older versions lose the end of ssh output)`, 'fly version upgrade', 'flyctl-too-old');
      }
      return version;
    })();
    return this.versionChecked;
  }

  /** `flyctl version --json` as reported, without the minimum-version check (doctor judges it). */
  async flyctlVersion(): Promise<string> {
    const result = await this.runner.run(['version', '--json'], { timeoutMs: TIMEOUTS.quick });
    return parseJson((await flySchemas()).VersionSchema, result.stdout, 'version', { caseInsensitive: true }).version;
  }

  async whoami(): Promise<string> {
    const result = await this.runner.run(['auth', 'whoami', '--json'], { timeoutMs: TIMEOUTS.quick });
    return parseJson((await flySchemas()).WhoamiSchema, result.stdout, 'auth whoami', { caseInsensitive: true }).email;
  }

  /** The app, or undefined when it does not exist. */
  async status(): Promise<z.infer<typeof S.AppStatusSchema> | undefined> {
    try {
      const result = await this.runner.run(['status', '--json', ...this.a()], { timeoutMs: TIMEOUTS.default });
      return parseJson((await flySchemas()).AppStatusSchema, result.stdout, 'status', { caseInsensitive: true });
    } catch (error) {
      if (error instanceof FlyAppNotFoundError) return undefined;
      throw error;
    }
  }

  createAppArgv(org?: string): string[] {
    return ['apps', 'create', this.app, ...(org ? ['-o', org] : [])];
  }

  async createApp(org?: string): Promise<void> {
    await this.runner.run(this.createAppArgv(org), { timeoutMs: TIMEOUTS.default });
  }

  async listVolumes(): Promise<Volume[]> {
    const result = await this.runner.run(['volumes', 'list', '--json', ...this.a()], { timeoutMs: TIMEOUTS.default });
    return parseJson((await flySchemas()).z.array((await flySchemas()).VolumeSchema), result.stdout || '[]', 'volumes list');
  }

  /** `-y` always (no TTY); `--vm-size/--vm-memory` are placement hints so the machine fits on the volume's host. */
  createVolumeArgv(name: string, region: string, sizeGb: number, vm: { size: string; memoryMb: number }): string[] {
    return ['volumes', 'create', name, '-r', region, '-s', String(sizeGb), '--vm-size', vm.size, '--vm-memory', String(vm.memoryMb), '-y', '--json', ...this.a()];
  }

  async createVolume(name: string, region: string, sizeGb: number, vm: { size: string; memoryMb: number }): Promise<Volume> {
    const result = await this.runner.run(this.createVolumeArgv(name, region, sizeGb, vm), { timeoutMs: TIMEOUTS.default });
    const [first] = parseConcatenatedJson(result.stdout);
    return (await flySchemas()).VolumeSchema.parse(first);
  }

  async listSecrets(): Promise<SecretInfo[]> {
    const result = await this.runner.run(['secrets', 'list', '--json', ...this.a()], { timeoutMs: TIMEOUTS.default });
    return parseJson((await flySchemas()).z.array((await flySchemas()).SecretSchema), result.stdout || '[]', 'secrets list', { caseInsensitive: true });
  }

  secretsImportArgv(stage: boolean): string[] {
    return ['secrets', 'import', ...(stage ? ['--stage'] : []), ...this.a()];
  }

  /** Values go over stdin (never argv); `--stage` applies them with the next deploy instead of restarting now. */
  async importSecrets(stdinText: string, stage: boolean): Promise<void> {
    await this.runner.run(this.secretsImportArgv(stage), { input: stdinText, timeoutMs: TIMEOUTS.default });
  }

  /** `-y`: the Tigris terms are agreed (a prompt otherwise, which fails without a terminal); `-n`: the same. */
  createStorageArgv(name: string): string[] {
    return ['storage', 'create', '-n', name, '-y', ...this.a()];
  }

  /**
   * A private Tigris bucket for the app. Its credentials are printed once, in clear text: captured
   * from stdout (registered for redaction at once), never echoed. Fly sets them as secrets of the
   * app and deploys them at once (a restart of its machines).
   */
  async createStorage(name: string): Promise<StorageCredentials> {
    const result = await this.runner.run(this.createStorageArgv(name), { timeoutMs: TIMEOUTS.deploy, allowFailure: true, uninterruptible: true });
    const credentials = parseStorageCredentials(result.stdout);
    // flyctl may fail after printing them (the secrets' deployment): the bucket exists, so keep them
    if (credentials) return credentials;
    throw storageCreateFailure(this.app, name, result);
  }

  async listIps(): Promise<IpAddress[]> {
    const result = await this.runner.run(['ips', 'list', '--json', ...this.a()], { timeoutMs: TIMEOUTS.default });
    return parseJson((await flySchemas()).z.array((await flySchemas()).IpAddressSchema), result.stdout || '[]', 'ips list', { caseInsensitive: true });
  }

  /** A Flycast address (`private_v6`): reachable only inside the org's private network, through Fly's proxy. */
  allocatePrivateIpArgv(): string[] {
    return ['ips', 'allocate-v6', '--private', ...this.a()];
  }

  /** The public pair a first deploy gives an HTTP app: a dedicated IPv6 and a shared IPv4 (free). */
  allocatePublicIpsArgv(): string[][] {
    return [['ips', 'allocate-v6', ...this.a()], ['ips', 'allocate-v4', '--shared', ...this.a()]];
  }

  releaseIpArgv(address: string): string[] {
    return ['ips', 'release', address, ...this.a()];
  }

  /**
   * Runs one argv of a deploy plan exactly as planned (the plan is the program: deploy/apply.ts
   * does not rebuild it from the client's other methods). Secret values come only as `input`.
   */
  async runPlanned(argv: string[], opts: { input?: string; cwd?: string; onLine?: (line: string) => void } = {}): Promise<RunResult> {
    const timeoutMs = argv[0] === 'deploy' ? TIMEOUTS.deploy : TIMEOUTS.default;
    return this.runner.run(argv, { input: opts.input, cwd: opts.cwd, timeoutMs, onLine: opts.onLine });
  }

  /** Runs one planned `ips …` argv (allocate or release); they print a table we do not need. */
  async runIpChange(argv: string[]): Promise<void> {
    await this.runner.run(argv, { timeoutMs: TIMEOUTS.default });
  }

  /**
   * `fly proxy` to the app's Flycast address. The remote port is the *service* port (80 for
   * [http_service]), not internal_port: Flycast routes through Fly's proxy by service port.
   */
  proxyArgv(localPort: number, servicePort: number): string[] {
    return ['proxy', `${localPort}:${servicePort}`, `${this.app}.flycast`, ...this.a(), '-q'];
  }

  /** The tunnel, running until it ends or Ctrl-C; each output line as it arrives. Returns flyctl's exit code. */
  proxy(localPort: number, servicePort: number, onLine: (line: string, stream: 'stdout' | 'stderr') => void): Promise<number> {
    return this.runner.stream(this.proxyArgv(localPort, servicePort), { onLine });
  }

  /**
   * An app-scoped deploy token (`FlyV1 fm2_…`). The value is registered for redaction before it
   * is returned: it never shows in clawdfly's output unless a caller prints it on purpose.
   */
  async createDeployToken(opts: { name: string; expiry: string }): Promise<string> {
    const result = await this.runner.run(['tokens', 'create', 'deploy', ...this.a(), '-n', opts.name, '-x', opts.expiry, '--json'], { timeoutMs: TIMEOUTS.default });
    const { token } = parseJson((await flySchemas()).DeployTokenSchema, result.stdout, 'tokens create deploy');
    registerSecrets([token, ...token.replace(/^FlyV1\s+/, '').split(',')]);
    return token;
  }

  /** `noPublicIps`: a private app; a first deploy would otherwise allocate public addresses. */
  deployArgv(opts: { config: string; localOnly?: boolean; noPublicIps?: boolean }): string[] {
    return [
      'deploy', ...this.a(), '-c', opts.config, '--ha=false', ...(opts.localOnly ? ['--local-only'] : ['--remote-only']), '--wait-timeout', '10m', '-y',
      ...(opts.noPublicIps ? ['--no-public-ips'] : []),
    ];
  }

  async deploy(opts: { cwd: string; config: string; localOnly?: boolean; noPublicIps?: boolean; onLine?: (line: string) => void }): Promise<RunResult> {
    return this.runner.run(this.deployArgv(opts), { cwd: opts.cwd, timeoutMs: TIMEOUTS.deploy, onLine: opts.onLine });
  }

  /** Rollback: deploys an image the registry holds already, no build (`--image`, flyctl-day2.md §5.3). */
  async deployImage(opts: { cwd: string; config: string; image: string; noPublicIps?: boolean; onLine?: (line: string) => void }): Promise<RunResult> {
    return this.runner.run([...this.deployArgv(opts), '--image', opts.image], { cwd: opts.cwd, timeoutMs: TIMEOUTS.deploy, onLine: opts.onLine });
  }

  machinesArgv(): string[] {
    return ['machines', 'list', '--json', ...this.a()];
  }

  async machines(): Promise<Machine[]> {
    const result = await this.runner.run(this.machinesArgv(), { timeoutMs: TIMEOUTS.default });
    return parseJson((await flySchemas()).z.array((await flySchemas()).MachineSchema), result.stdout || '[]', 'machines list');
  }

  async restartMachine(id: string): Promise<void> {
    await this.runner.run(['machine', 'restart', id, ...this.a()], { timeoutMs: TIMEOUTS.machineWait });
  }

  async startMachine(id: string): Promise<void> {
    await this.runner.run(['machine', 'start', id, ...this.a()], { timeoutMs: TIMEOUTS.machineWait });
  }

  updateMachineArgv(id: string, change: MachineChange): string[] {
    return [
      'machine', 'update', id,
      ...(change.vmSize !== undefined ? ['--vm-size', change.vmSize] : []),
      ...(change.memoryMb !== undefined ? ['--vm-memory', String(change.memoryMb)] : []),
      ...(change.command !== undefined ? ['--command', change.command] : []),
      ...Object.entries(change.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      '-y', ...this.a(),
    ];
  }

  async updateMachine(id: string, change: MachineChange): Promise<void> {
    await this.runner.run(this.updateMachineArgv(id, change), { timeoutMs: TIMEOUTS.machineWait });
  }

  /** Recent log lines. An empty buffer makes flyctl hang; after the timeout that reads as "no lines". */
  recentLogsArgv(machineId?: string): string[] {
    return ['logs', '--no-tail', '--json', ...this.a(), ...(machineId ? ['-m', machineId] : [])];
  }

  async recentLogs(opts: { machineId?: string; timeoutMs?: number } = {}): Promise<{ entries: LogEntry[]; timedOut: boolean }> {
    const argv = this.recentLogsArgv(opts.machineId);
    const result = await this.runner.run(argv, { timeoutMs: opts.timeoutMs ?? TIMEOUTS.logs, allowFailure: true });
    if (!result.timedOut && result.exitCode !== 0) throw failureOf(result);
    const { LogEntrySchema } = await flySchemas();
    const entries = parseConcatenatedJson(result.stdout).flatMap((value) => {
      const parsed = LogEntrySchema.safeParse(value);
      return parsed.success ? [parsed.data] : [];
    });
    return { entries, timedOut: result.timedOut };
  }

  /** `user`: run as that Unix user instead of root (hallpass's --user), for programs that write in the state dir. */
  sshArgv(command: string[], machineId?: string, pty = false, user?: string): string[] {
    return ['ssh', 'console', ...this.a(), ...(machineId ? ['--machine', machineId] : []), ...(user ? ['--user', user] : []), '-q', ...(pty ? ['--pty'] : []), '-C', remoteCommand(command)];
  }

  /**
   * Runs one command on the machine. stdin (if any) is piped to it and closed; a remote non-zero
   * exit becomes FlyRemoteExitError with the remote status.
   */
  async ssh(command: string[], opts: { machineId?: string; input?: string | Buffer; timeoutMs?: number; user?: string } = {}): Promise<string> {
    const argv = this.sshArgv(command, opts.machineId, false, opts.user);
    const result = await this.runner.run(argv, { input: opts.input, timeoutMs: opts.timeoutMs ?? TIMEOUTS.ssh, allowFailure: true });
    if (result.exitCode === 0) return result.stdout;
    const remote = result.stderr.match(/Process exited with status (\d+)/);
    if (remote) throw new FlyRemoteExitError(Number(remote[1]), remoteCommand(command), result.stderr);
    throw failureOf(result, opts.timeoutMs ?? TIMEOUTS.ssh);
  }

  /**
   * One `ssh console -C` call with binary stdin/stdout (backup and restore archives): stdin from a
   * file, stdout into a stream. A remote non-zero exit becomes FlyRemoteExitError; a stalled
   * connection (no byte for `idleTimeoutMs`) a timeout error.
   */
  async sshTransfer(command: string[], opts: { machineId?: string; idleTimeoutMs?: number } & Omit<TransferOptions, 'idleTimeoutMs'>): Promise<TransferResult> {
    const argv = this.sshArgv(command, opts.machineId);
    const idleTimeoutMs = opts.idleTimeoutMs ?? TIMEOUTS.ssh;
    const result = await this.runner.transfer(argv, { ...opts, idleTimeoutMs });
    if (result.exitCode === 0 || result.sinkError) return result;
    const remote = result.stderr.match(/Process exited with status (\d+)/);
    if (remote && !result.stalled) throw new FlyRemoteExitError(Number(remote[1]), command[0] ?? 'ssh', result.stderr);
    throw failureOf({ argv, stdout: '', stderr: result.stderr, exitCode: result.exitCode, timedOut: result.stalled, ms: result.ms }, idleTimeoutMs);
  }

  snapshotCreateArgv(volumeId: string): string[] {
    return ['volumes', 'snapshots', 'create', volumeId, ...this.a()];
  }

  /** `fly volumes snapshots create`: flyctl prints no id (flyctl-day2.md §4.1); list the snapshots to find it. */
  async createSnapshot(volumeId: string): Promise<void> {
    await this.runner.run(this.snapshotCreateArgv(volumeId), { timeoutMs: TIMEOUTS.default });
  }

  /** Oldest first (flyctl's order); `id` may be "" while the snapshot is pending. */
  async listSnapshots(volumeId: string): Promise<Snapshot[]> {
    const result = await this.runner.run(['volumes', 'snapshots', 'list', volumeId, '--json', ...this.a()], { timeoutMs: TIMEOUTS.default });
    return parseJson((await flySchemas()).z.array((await flySchemas()).SnapshotSchema), result.stdout || '[]', 'volumes snapshots list');
  }

  /** `ssh console` for a person at the terminal: a shell (no command), or an interactive program (`--pty` forces a terminal for -C). */
  sshConsoleArgv(opts: { machineId?: string; command?: string[]; pty?: boolean; user?: string } = {}): string[] {
    return [
      'ssh', 'console', ...this.a(),
      ...(opts.machineId ? ['--machine', opts.machineId] : []),
      ...(opts.user ? ['--user', opts.user] : []),
      ...(opts.pty ? ['--pty'] : []),
      ...(opts.command ? ['-C', remoteCommand(opts.command)] : []),
    ];
  }

  /** Runs `ssh console` with stdin/stdout/stderr inherited; returns flyctl's exit code. */
  sshInteractive(opts: { machineId?: string; command?: string[]; pty?: boolean; user?: string } = {}): Promise<number> {
    return this.runner.interactive(this.sshConsoleArgv(opts));
  }

  followLogsArgv(machineId?: string): string[] {
    return ['logs', ...this.a(), ...(machineId ? ['-m', machineId] : [])];
  }

  /** `fly logs` (tailing, text lines) until flyctl ends or Ctrl-C; each line as it arrives. Returns flyctl's exit code. */
  followLogs(onLine: (line: string, stream: 'stdout' | 'stderr') => void, opts: { machineId?: string } = {}): Promise<number> {
    return this.runner.stream(this.followLogsArgv(opts.machineId), { onLine });
  }
}
