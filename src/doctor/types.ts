/**
 * doctor's model: evidence is gathered once (probes in parallel), then every check is a pure
 * function of it. A check names the cause, quotes the proof and gives the one command that fixes it.
 */
import type { IpAddress, Machine, SecretInfo } from '../fly/json.js';
import type { Project } from '../project/project.js';
import type { ConfigCheck } from '../gateway/config-parse.js';
import type { RemoteFacts } from './remote.js';
import type { LocalBackup } from '../backup/archive.js';
import type { Readiness } from '../gateway/health.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export const CHECK_IDS = [
  'flyctl', 'auth', 'app', 'bind', 'port', 'memory', 'lock', 'config', 'state-dir', 'command-drift',
  'secrets', 'auth-token-bind', 'crash-loop', 'workspace', 'pairing', 'network', 'backup', 'signal-data', 'ready',
  'upgrade', 'leftovers', 'watchdog', 'offsite',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export interface CheckResult {
  status: CheckStatus;
  summary: string;
  /** The log line / config value that proves it, quoted. */
  evidence?: string[];
  /** The exact command or edit that fixes it (copy-pasteable). */
  fix?: string;
}

/** What `--fix` can do for a failing check (see fixes.ts). */
export type FixKind = 'redeploy' | 'memory' | 'lock' | 'config-push' | 'secrets' | 'pairing' | 'start' | 'leftovers';

export interface Check {
  id: CheckId;
  title: string;
  run(ev: Evidence): CheckResult;
  /** How --fix repairs it; absent = the fix is manual (printed only). */
  fixKind?: (ev: Evidence, result: CheckResult) => FixKind | undefined;
  /** --fix also repairs it when it only warns (a clean-up, not a failure). */
  fixesWarning?: boolean;
}

/** One probe's outcome: a value, or the error text that replaced it. */
export interface Probe<T> {
  ok: boolean;
  value?: T;
  /** flyctl's one-line error (already redacted when printed). */
  error?: string;
  /** Typed error code (not-logged-in, app-not-found, flyctl-missing, …). */
  code?: string;
  ms: number;
}

export interface LogLine {
  message: string;
  /** ms since the epoch, when flyctl gave one. */
  at?: number;
  instance?: string;
}

export interface DevicesList {
  pending: { requestId: string; deviceId?: string; client?: string; role?: string; requestedAt?: string }[];
  paired: unknown[];
}

export interface Evidence {
  offline: boolean;
  project: Project;
  /** The local the gateway config file, validated (undefined when the project has none). */
  localConfig?: ConfigCheck;
  flyctl?: Probe<string>;
  whoami?: Probe<string>;
  status?: Probe<{ name: string; status?: string; deployed?: boolean } | undefined>;
  machines?: Probe<Machine[]>;
  secrets?: Probe<SecretInfo[]>;
  ips?: Probe<IpAddress[]>;
  logs?: Probe<{ lines: LogLine[]; timedOut: boolean; timeoutMs: number }>;
  remote?: Probe<RemoteFacts>;
  /** Only fetched when the current boot's logs show `pairing required`. */
  devices?: Probe<DevicesList>;
  /** The gateway's own ready endpoint through the app's URL (runtimes with one, public apps). */
  readiness?: Probe<{ url: string; readiness?: Readiness }>;
  /** This project's local backups of the app (clawdfly backup), newest first. */
  backups?: LocalBackup[];
  /** The project's Dockerfile, read for the Signal variant only (its signal-cli wrapper). */
  dockerfileText?: string;
  /** The gateway machine (process group app; a started one first). */
  machine?: Machine;
  /** An upgrade that stopped half-way (its journal), with what to run. */
  interruptedUpgrade?: { journal: string; stage: string; summary: string; next: string };
  /** Snapshots on the state dir that a recorded release (or an upgrade in progress) goes back to: not leftovers. */
  neededSnapshots?: string[];
}
