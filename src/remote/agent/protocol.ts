/**
 * The one request/response protocol between clawdfly (the laptop) and its agent on the machine.
 *
 * Transport (see ../agent-call.ts): `node -e <bootstrap> <op> <state dir> <params>` over
 * `fly ssh console -C`, run as root by hallpass; the agent itself is NOT in the argv: it arrives on
 * stdin as a frame `<12-digit byte length><script>`, and whatever follows the frame on stdin is the
 * request's payload (an archive to restore, a config file to push). The state dir travels as a
 * plain argv word; every other path is a name relative to it, inside `params` (base64url JSON).
 * The agent drops to the owner of the state dir before it touches anything (owner.ts).
 *
 * Responses: a JSON line on stdout (`AgentResponse[op]`), except `backup`, whose stdout is the
 * archive itself. Failures: a one-line reason on stderr and an exit status from AGENT_STATUS.
 *
 * This file holds types and constants only: it is imported by both sides.
 */

/** Remote exit statuses the laptop maps to errors. */
export const AGENT_STATUS = {
  /** The upload (archive, config) arrived damaged or is not a clawdfly archive. */
  damaged: 4,
  notDir: 5,
  swapFailed: 6,
  refused: 7,
  sqliteFailed: 8,
  /** A request the agent does not understand (an older agent, a bad word). */
  badRequest: 9,
  /** What was asked for is not there (a snapshot, a config file). */
  missing: 44,
  /** The volume has not the room for what was asked (an upgrade's snapshot). */
  noSpace: 45,
  /** Waited too long for another clawdfly call holding the state dir's lock. */
  busy: 46,
  /** The agent could not drop to the state dir's owner. */
  ownerFailed: 125,
} as const;

export type AgentStatus = (typeof AGENT_STATUS)[keyof typeof AGENT_STATUS];

export interface BackupMeta {
  app?: string;
  runtime?: string;
  machine?: string;
  image?: string;
  stateDir?: string;
  /** Top-level names left out, or `re:<regex source>` for a family of names. */
  excludes?: string[];
  /** The same, as a person reads them (the manifest's `excluded`). */
  excludedLabels?: string[];
}

export interface AgentParams {
  /** stdout: the gzip'd archive. */
  backup: BackupMeta;
  /** stdin (after the frame): the archive; `sha256` is what the laptop sent. */
  restore: { sha256: string; excludes: string[]; tag?: string; applyWithinMs?: number };
  /**
   * After a staged restore's restart: `keep`/`drop` confirm an applied one (the replaced state kept
   * or removed), `status` only reads, `discard` takes back one still staged (its restart failed).
   */
  'confirm-restore': { how: 'keep' | 'drop' | 'status' | 'discard' };
  /** Removes one `.pre-restore-*` folder (a name straight under the state dir). */
  'drop-previous': { name: string };
  /** The `.pre-restore-*` folders a restore tagged `tag` made (how a run that lost the answer finds the swap). */
  'find-swap': { tag: string };
  /** An upgrade's copy of the old gateway's files; `notSnapshotted`: top-level names left where they are. */
  'upgrade-snapshot': { notSnapshotted: string[] };
  /** A rollback: the snapshot (a name straight under the state dir) back in place, the newer gateway's entries aside. */
  /**
   * Puts an upgrade's snapshot back. With `hold`, the newer gateway is held first (it still runs and
   * opens its stores by path): the watchdog's hold file written, then its processes (cwd its package
   * dir, command line running `<entry> gateway`) stopped with SIGSTOP; the deploy that follows ends them.
   */
  'upgrade-snapshot-restore': { snapshot: string; notSnapshotted: string[]; hold?: GatewayHold };
  /** Removes an aside folder, and `ownEntries` the newer gateway wrote again since. */
  'upgrade-aside-discard': { aside: string; ownEntries: string[]; holdPath?: string };
  'upgrade-snapshot-drop': { snapshot: string };
  /** Paths under the state dir matching simple globs (`*` = one name): a read-only probe. */
  'find-files': { globs: string[] };
  /** Removes clawdfly's own leftover folders (names straight under the state dir, re-checked there). */
  'remove-leftovers': { names: string[] };
  /** The gateway's config file (`name`, straight in the dir the call runs in). */
  'config-read': { name: string };
  /** stdin (after the frame): the new bytes. `keep`: backups kept. `validator`: the machine's gateway judges the upload first. */
  'config-push': { name: string; sha256: string; keep: number; validator?: { stateDirVar: string; configPathVar: string; argv: string[] } };
  /** `backup` (a name in the dir) back in place of the live file; without one, the live file moved aside. */
  'config-restore': { name: string; backup?: string };
  /**
   * doctor's one look at the machine (read-only). The paths it looks at travel as argv words after
   * the params (`c:<config>`, `s:<state dir>`, `t:<tmp base>`, `w:<workspace>`; absolute paths, as
   * the state dir itself travels), see agentCommand's `words`. `lockName`: a gateway lock's file name
   * (a RegExp source); lock dirs under a tmp base are `<lockDirPrefix><uid>`.
   */
  'doctor-probe': { lockDirPrefix: string; lockName: string; maxConfigBytes: number };
  /** Removes the locks named by `f:<lock file>` words whose owner is gone, re-checked at delete time against `s:`/`t:` words. */
  'remove-stale-lock': { lockDirPrefix: string; lockName: string };
}

/** The argv words after the params of doctor-probe / remove-stale-lock. */
export type ProbeWord = `${'c' | 's' | 't' | 'w' | 'f'}:${string}`;

export interface ProbeFile {
  path: string;
  exists: boolean;
  regular: boolean;
  readable: boolean;
  bytes?: number;
  /** Octal permission bits. */
  mode?: string;
  /** The first maxConfigBytes bytes, base64. */
  text64?: string;
}

export interface ProbeDir {
  path: string;
  exists: boolean;
  /** As the state dir's owner. */
  writable: boolean;
}

export interface ProbeLock {
  path: string;
  /** The lock file's bytes (at most 4 KiB), base64. */
  json64: string;
  /** Its pid has an entry in the process table. */
  alive: boolean;
  /** Field 22 of /proc/<pid>/stat, when alive and readable. */
  procStart?: number;
}

export interface DoctorProbe {
  /** $TMPDIR of the call. */
  tmpdir?: string;
  configs: ProbeFile[];
  stateDirs: ProbeDir[];
  workspaces: ProbeDir[];
  locks: ProbeLock[];
  /** clawdfly's own folders on the first state dir: KiB the owner can reach, last change (s since the epoch). */
  leftovers: { path: string; kb?: number; mtime?: number }[];
  /** `.clawdfly-restore.json` on the first state dir: its state word. */
  restoreMarker?: { path: string; state: string };
}

export interface StaleLockRemoval {
  removed: string[];
  kept: string[];
  skipped: string[];
}

export type AgentOp = keyof AgentParams;

/** The archive verified and left staged for the next boot (an image whose prepare-data.mjs applies it). */
export interface StagedResponse {
  staged: true;
  stage: string;
  files: number;
  bytes: number;
}

/** What became of a staged restore (see AgentParams['confirm-restore']). */
export interface ConfirmResponse {
  /** `applied`, `reverted`, `staged`, `failed`, `discarded`, `none`, `invalid`. */
  state: string;
  confirmed: boolean;
  preRestore: string | null;
  failedRestore: string | null;
  dropped: boolean;
  error: string | null;
}

/** Swapped in at once (an image without the boot step). */
export interface RestoreResponse {
  restored: true;
  preRestore: string;
  files: number;
  bytes: number;
  movedAside: string[];
  problems: string[];
  keptInPlace: string[];
  leftAside: string[];
}

export interface AgentResponses {
  backup: never;
  restore: RestoreResponse | StagedResponse;
  'confirm-restore': ConfirmResponse;
  'drop-previous': { dropped: string };
  'find-swap': { preRestore: string[]; staged: string[] };
  'upgrade-snapshot': { snapshot: string; skipped: string[]; specialFiles: string[] };
  'upgrade-snapshot-restore': { aside: string; held: number[] };
  'upgrade-aside-discard': { removed: string[] };
  'upgrade-snapshot-drop': { dropped: boolean };
  'find-files': { found: string[] };
  'remove-leftovers': { removed: string[]; skipped: string[] };
  'config-read': { text64: string };
  'config-push': { committed: true; backup?: string };
  'config-restore': { restored: boolean; aside?: string };
  'doctor-probe': DoctorProbe;
  'remove-stale-lock': StaleLockRemoval;
}

/** How long a config push waits for a concurrent one (seconds). */
export const CONFIG_LOCK_WAIT_S = 60;

/** Length of the frame header: the script's byte length in decimal, zero-padded. */
export const FRAME_DIGITS = 12;

/** The newer gateway a rollback holds while it puts the older one's state back. */
export interface GatewayHold {
  /**
   * The watchdog's hold file, relative to the state dir (the supervisor does not restart a held
   * gateway). Relative, so that flyctl's test double keeps it on its machine's volume.
   */
  holdPath?: string;
  /**
   * The gateway package's folder in the image: the gateway's working directory. Processes are
   * looked up under the agent's process root (procRoot(): /proc on a machine; the test double's
   * fake table under it, so a test never stops a process of this host).
   */
  packageDir: string;
  /** The package's entry, as the gateway's command line names it (e.g. dist/index.js). */
  entry: string;
}
