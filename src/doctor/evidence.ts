/**
 * Evidence first: every probe runs in parallel (flyctl version, whoami, status, machines, secrets,
 * recent logs with a timeout, and ONE ssh round trip for every remote file fact), so doctor's wall
 * time is close to its slowest probe. Probes never throw: a failed probe is evidence too.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listBackups } from '../backup/archive.js';
import { isClawdflyError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import { exitOf, type Machine, type MachineEvent } from '../fly/json.js';
import { checkConfigText, loadConfigSchema, parseConfigText } from '../gateway/config-parse.js';
import { classifyLines, type LogFinding } from '../gateway/logs.js';
import { gatewayRpcCli, GATEWAY_USER, STATE_DIR, WORKSPACE_SUBDIR } from '../gateway/runtime.js';
import type { Project } from '../project/project.js';
import { readReleases } from '../release/releases.js';
import { describeInterruptedUpgrade, readUpgradeJournal, UPGRADE_JOURNAL } from '../release/journal.js';
import { appUrl } from '../project/network.js';
import { fetchReadiness, readinessUrl } from '../gateway/health.js';
import { probeRemote, type RemoteFacts } from './remote.js';
import { scheduledMinutes } from '../backup/offsite.js';
import { offsiteStatusPath } from './checks/offsite.js';
import type { DevicesList, Evidence, LogLine, Probe } from './types.js';

export const DOCTOR_SSH_TIMEOUT_MS = 60_000;

export async function probe<T>(fn: () => Promise<T>): Promise<Probe<T>> {
  const started = Date.now();
  try {
    const value = await fn();
    return { ok: true, value, ms: Date.now() - started };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, error: message.split('\n')[0], code: isClawdflyError(error) ? error.code : undefined, ms: Date.now() - started };
  }
}

/** RFC3339 with nanoseconds → ms since the epoch. */
export function parseTime(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? undefined : ms;
}

/** The gateway machine: process group `app`, a started one first. */
export function pickMachine(machines: Machine[] | undefined): Machine | undefined {
  if (!machines?.length) return undefined;
  const app = machines.filter((m) => (m.config?.metadata?.['fly_process_group'] ?? 'app') === 'app');
  const pool = app.length ? app : machines;
  return pool.find((m) => m.state === 'started') ?? pool[0];
}

function jsonOf(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function localConfigValue(project: Project): Record<string, unknown> | undefined {
  if (!project.configText) return undefined;
  try {
    return (parseConfigText(project.configText).value as Record<string, unknown> | undefined) ?? undefined;
  } catch {
    return undefined; // unparsable: the config check says so
  }
}

/** Every path the remote script looks at: fly.toml's and the defaults (the machine may differ from both). */
function remoteTargets(project: Project) {
  const local = localConfigValue(project);
  const ws = (local?.['agents'] as { defaults?: { workspace?: unknown } } | undefined)?.defaults?.workspace;
  const stateDirs = [project.stateDir, project.fly.mountDestination ?? '', STATE_DIR];
  return {
    configs: [
      project.remoteConfigPath,
      ...stateDirs.filter(Boolean).map((d) => `${d}/${project.runtime.configFileName}`),
      // the off-site uploader's status (doctor's offsite check), only when a schedule is set
      ...(scheduledMinutes(project.fly.env) !== undefined ? [offsiteStatusPath(project.stateDir)] : []),
    ],
    stateDirs,
    // a runtime may keep its lock dirs under <state>/tmp whatever TMPDIR says (runtime.lockStateSubdir)
    tmpBases: [project.fly.env['TMPDIR'] ?? '', '/tmp', ...(project.runtime.lockStateSubdir ? [`${project.stateDir}/${project.runtime.lockStateSubdir}`] : [])],
    workspaces: [typeof ws === 'string' ? ws : '', `${project.fly.mountDestination ?? STATE_DIR}/${WORKSPACE_SUBDIR}`],
  };
}

export interface GatherOptions {
  offline: boolean;
  flyctl?: string;
  logsTimeoutMs: number;
}

export async function gatherEvidence(project: Project, opts: GatherOptions): Promise<Evidence> {
  const ev: Evidence = { offline: opts.offline, project };
  // the schema mirror (zod) only for a runtime without a validator of its own, and only with a config to check
  if (project.configText !== undefined || !opts.offline) await loadConfigSchema(project.runtime);
  if (project.configText !== undefined) ev.localConfig = checkConfigText(project.configText, project.runtime);
  ev.backups = await listBackups(project.dir, project.app);
  ev.interruptedUpgrade = await interruptedUpgrade(project);
  ev.neededSnapshots = await neededSnapshots(project);
  if (project.answers?.signal === true) ev.dockerfileText = await readFile(join(project.dir, 'Dockerfile'), 'utf8').catch(() => undefined);
  if (opts.offline) return ev;

  let client: FlyClient;
  try {
    // Loaded only online: doctor --offline never needs flyctl's client.
    const { FlyClient } = await import('../fly/client.js');
    client = new FlyClient({ app: project.app, flyctl: opts.flyctl });
  } catch (error) {
    ev.flyctl = { ok: false, error: (error as Error).message, code: isClawdflyError(error) ? error.code : undefined, ms: 0 };
    return ev;
  }
  const readyUrl = project.exposure === 'public' ? readinessUrl(project.runtime, appUrl(project.app, project.exposure)) : undefined;
  const [flyctl, whoami, status, machines, secrets, ips, logs, remote, readiness] = await Promise.all([
    probe(() => client.flyctlVersion()),
    probe(() => client.whoami()),
    probe(() => client.status()),
    probe(() => client.machines()),
    probe(() => client.listSecrets()),
    probe(() => client.listIps()),
    probe(async () => {
      const result = await client.recentLogs({ timeoutMs: opts.logsTimeoutMs });
      const lines: LogLine[] = result.entries.map((e) => ({ message: e.message, at: parseTime(e.timestamp), instance: e.instance || undefined }));
      return { lines, timedOut: result.timedOut, timeoutMs: opts.logsTimeoutMs };
    }),
    probe(async () => {
      const targets = remoteTargets(project);
      return probeRemote(client, project.runtime, targets, { timeoutMs: DOCTOR_SSH_TIMEOUT_MS });
    }),
    readyUrl ? probe(async () => ({ url: readyUrl, readiness: await fetchReadiness(readyUrl, 10_000, project.secrets[project.runtime.env.gatewayToken]) })) : Promise.resolve(undefined),
  ]);
  Object.assign(ev, { flyctl, whoami, status, machines, secrets, ips, logs, remote, readiness });
  ev.machine = pickMachine(machines.value);

  // Pairing needs the gateway's own pending list, asked only when this boot's logs show the refusal.
  if (ev.machine?.state === 'started' && classifyLines(bootLines(ev).map((l) => l.message)).some((f) => f.kind === 'pairing')) {
    ev.devices = await probe(() => listDevices(client, project, ev.machine!));
  }
  return ev;
}

async function neededSnapshots(project: Project): Promise<string[]> {
  const recorded = (await readReleases(project.dir, project.app, { refused: 'drop' })).releases.map((r) => r.stateSnapshot);
  const inProgress = await readUpgradeJournal(project.dir, project.app).then((j) => j?.snapshot, () => undefined);
  return [...recorded, inProgress].filter((s): s is string => typeof s === 'string');
}

async function interruptedUpgrade(project: Project): Promise<Evidence['interruptedUpgrade']> {
  let journal;
  try {
    journal = await readUpgradeJournal(project.dir, project.app);
  } catch (error) {
    return { journal: UPGRADE_JOURNAL, stage: 'unreadable', summary: (error as Error).message, next: isClawdflyError(error) && error.hint ? error.hint : `look at ${UPGRADE_JOURNAL}` };
  }
  if (!journal) return undefined;
  try {
    return { journal: UPGRADE_JOURNAL, stage: journal.stage, ...describeInterruptedUpgrade(journal, await readReleases(project.dir, project.app, { refused: 'drop' })) };
  } catch (error) {
    return { journal: UPGRADE_JOURNAL, stage: journal.stage, summary: (error as Error).message, next: isClawdflyError(error) && error.hint ? error.hint : `look at ${UPGRADE_JOURNAL}` };
  }
}

export function devicesArgv(project: Project, machine: Machine | undefined, args: string[]): string[] {
  // The CLI dials the default port unless told the one the gateway was started with.
  return gatewayRpcCli(project.runtime, machineGatewayPort(machine), ['devices', ...args]);
}

export async function listDevices(client: FlyClient, project: Project, machine: Machine): Promise<DevicesList> {
  const stdout = await client.ssh(devicesArgv(project, machine, ['list', '--json']), { machineId: machine.id, timeoutMs: DOCTOR_SSH_TIMEOUT_MS, user: GATEWAY_USER });
  const start = stdout.indexOf('{');
  const value = JSON.parse(start >= 0 ? stdout.slice(start) : stdout) as Partial<DevicesList>;
  return { pending: Array.isArray(value.pending) ? value.pending : [], paired: Array.isArray(value.paired) ? value.paired : [] };
}

// ---------------------------------------------------------------- derived facts

export function machineCmd(machine: Machine | undefined): string[] | undefined {
  return machine?.config?.init?.cmd ?? undefined;
}

export function machineEnv(machine: Machine | undefined): Record<string, string> {
  return machine?.config?.env ?? {};
}

function cmdFlag(cmd: string[] | undefined, flag: string): string | undefined {
  if (!cmd) return undefined;
  for (let i = 0; i < cmd.length; i++) {
    const a = cmd[i]!;
    if (a === flag) return cmd[i + 1];
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
  }
  return undefined;
}

export function cmdPort(cmd: string[] | undefined): number | undefined {
  const v = cmdFlag(cmd, '--port');
  return v && /^\d+$/.test(v) ? Number(v) : undefined;
}

export function cmdBind(cmd: string[] | undefined): string | undefined {
  return cmdFlag(cmd, '--bind');
}

export function machineGatewayPort(machine: Machine | undefined): number | undefined {
  const fromCmd = cmdPort(machineCmd(machine));
  if (fromCmd) return fromCmd;
  const env = Object.entries(machineEnv(machine)).find(([k]) => k.endsWith('_GATEWAY_PORT'))?.[1];
  return env && /^\d+$/.test(env) ? Number(env) : undefined;
}

function eventsOf(machine: Machine | undefined): MachineEvent[] {
  return (machine?.events ?? []).filter((e) => typeof e.timestamp === 'number');
}

/** When the machine last booted / last got a new config (launch, update, deploy). */
export function lastEventAt(machine: Machine | undefined, types: string[]): number | undefined {
  const times = eventsOf(machine).filter((e) => types.includes(e.type)).map((e) => e.timestamp!);
  return times.length ? Math.max(...times) : undefined;
}

function linesSince(ev: Evidence, since: number | undefined): LogLine[] {
  const lines = ev.logs?.value?.lines ?? [];
  const id = ev.machine?.id;
  return lines.filter((l) => (!id || !l.instance || l.instance === id) && (since === undefined || l.at === undefined || l.at >= since));
}

/** Log lines of the current boot (since the last start): what the running gateway said. */
export function bootLines(ev: Evidence): LogLine[] {
  return linesSince(ev, lastEventAt(ev.machine, ['start']));
}

/** Log lines since the machine's config last changed: evidence older than that was about another config. */
export function configLines(ev: Evidence): LogLine[] {
  return linesSince(ev, lastEventAt(ev.machine, ['launch', 'update']));
}

export function findings(lines: LogLine[]): LogFinding[] {
  return classifyLines(lines.map((l) => l.message));
}

/** Exit events since the machine's config last changed, newest first, requested stops left out. */
export function crashExits(machine: Machine | undefined): { code?: number; oom: boolean; at: number }[] {
  const since = lastEventAt(machine, ['launch', 'update']) ?? 0;
  return eventsOf(machine)
    .filter((e) => e.type === 'exit' && e.timestamp! >= since)
    .map((e) => ({ exit: exitOf(e), at: e.timestamp! }))
    .filter((e) => e.exit && e.exit.requested_stop !== true)
    .map((e) => ({ code: e.exit!.exit_code, oom: e.exit!.oom_killed === true, at: e.at }))
    .sort((a, b) => b.at - a.at);
}

/** The config the gateway actually reads: the remote file when we have it, else the local one. */
export function effectiveConfig(ev: Evidence): { value?: Record<string, unknown>; source: string } {
  const remote = remoteConfigFile(ev);
  const value = jsonOf(remote?.text);
  if (value && typeof value === 'object') return { value: value as Record<string, unknown>, source: remote!.path };
  const local = ev.localConfig?.value;
  if (local && typeof local === 'object') return { value: local as Record<string, unknown>, source: `local ${ev.project.runtime.configFileName}` };
  return { source: 'none' };
}

/** Where the gateway on this machine reads its config: the runtime's config-path variable, else <state dir>/<file>. */
export function machineConfigPath(ev: Evidence): string | undefined {
  const env = machineEnv(ev.machine);
  const explicit = env[ev.project.runtime.env.configPath];
  if (explicit) return explicit;
  const stateDir = ev.machine ? env[ev.project.runtime.env.stateDir] : ev.project.stateDir;
  return stateDir ? `${stateDir.replace(/\/$/, '')}/${ev.project.runtime.configFileName}` : undefined;
}

export function remoteConfigFile(ev: Evidence): RemoteFacts['configs'][number] | undefined {
  const path = machineConfigPath(ev);
  return ev.remote?.value?.configs.find((c) => c.path === path);
}

export function isInside(path: string | undefined, dir: string | undefined): boolean {
  if (!path || !dir) return false;
  const d = dir.replace(/\/+$/, '');
  return path === d || path.startsWith(`${d}/`);
}
