/**
 * Reading the gateway's own log lines. The patterns are the real gateway's output
 * (shared/fixtures/gateway-logs/); each classification names the doctor check it proves.
 */
import { stripVTControlCharacters } from 'node:util';

export type LogFinding =
  /** host and port are named by clawdbot's line only; openclaw's `http server listening (…)` names neither. */
  | { kind: 'listening'; host?: string; port?: number; pid?: number; line: string }
  | { kind: 'lock'; pid: number; line: string }
  /** openclaw: its SQLite gateway owner lease is still held, by a live gateway or a killed boot's. */
  | { kind: 'owner-lease'; line: string }
  | { kind: 'port-in-use'; line: string }
  | { kind: 'config-invalid'; problems: string[]; line: string }
  | { kind: 'config-missing'; line: string }
  | { kind: 'refuse-bind'; line: string }
  | { kind: 'oom'; line: string }
  | { kind: 'crash'; line: string }
  | { kind: 'pairing'; line: string }
  | { kind: 'eacces'; line: string }
  | { kind: 'reload-applied'; line: string }
  | { kind: 'reload-restart'; line: string }
  | { kind: 'reload-skipped'; line: string }
  | { kind: 'shutdown'; line: string };

const LISTENING = /\[gateway\] listening on wss?:\/\/(\[[^\]]+\]|[^:\s]+):(\d+)(?: \(PID (\d+)\))?/;
// openclaw (2026.9.6): `[gateway] http server listening (14 plugins: anthropic, …; 6.0s)`
const LISTENING_OPENCLAW = /\[gateway\] http server listening \(/;
const LOCK = /gateway already running \(pid (\d+)\); lock timeout/;
// openclaw 2026.9.6 (dist/windows-port-pids-*.mjs), as `Gateway failed to start: Another Gateway owner lease …`
const OWNER_LEASE = /Another Gateway owner lease is still active for this state directory/;
const PORT_IN_USE = /another gateway instance is already listening on|Port \d+ is already in use/;
const CONFIG_INVALID = /^(?:.*?)(Invalid config at |Config invalid$)/;
const PROBLEM_LINE = /^\s*- (\S.*?: .+)$/;
const CONFIG_MISSING = /Missing config\. Run|Gateway start blocked:/;
// Both auth guards of the gateway's start (gateway.md §3.2): no token for a non-loopback bind, or token mode without one.
const REFUSE_BIND = /Refusing to bind gateway to \S+ without auth\.|Gateway auth is set to token, but no token is configured\./;
const OOM = /Reached heap limit|JavaScript heap out of memory|Runtime_AllocateInYoungGeneration|FatalProcessOutOfMemory|\bSIGABRT\b|Out of memory: Killed process|oom-kill/i;
// openclaw: `Gateway failed to start: …` can follow its listening line (a start that did not finish)
const CRASH = /Unhandled promise rejection: |Gateway failed to start: /;
const PAIRING = /pairing required/;
const EACCES = /EACCES: permission denied/;
const RELOAD_APPLIED = /config hot reload applied/;
const RELOAD_RESTART = /config change requires gateway restart/;
const RELOAD_SKIPPED = /config reload skipped \(invalid config\)/;
const SHUTDOWN = /received SIG(?:TERM|INT); shutting down/;

/** Strip the `<ISO timestamp> ` prefix the gateway writes with NO_COLOR (`…Z` clawdbot, `…+00:00` openclaw). */
export function stripTimestamp(line: string): string {
  return line.replace(/^\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:\d{2})\s+/, '');
}


export function classifyLines(text: string | string[]): LogFinding[] {
  // Without NO_COLOR the gateway colours its lines; read them the same either way.
  const lines = (Array.isArray(text) ? text : text.split(/\r?\n/)).map((line) => stripVTControlCharacters(line));
  const findings: LogFinding[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const line = raw.trim();
    if (!line) continue;
    let m: RegExpMatchArray | null;
    if ((m = line.match(LISTENING))) {
      findings.push({ kind: 'listening', host: m[1]!, port: Number(m[2]), pid: m[3] ? Number(m[3]) : undefined, line });
    } else if (LISTENING_OPENCLAW.test(line)) {
      findings.push({ kind: 'listening', line });
    } else if ((m = line.match(LOCK))) {
      findings.push({ kind: 'lock', pid: Number(m[1]), line });
    } else if (OWNER_LEASE.test(line)) {
      findings.push({ kind: 'owner-lease', line });
    } else if (PORT_IN_USE.test(line)) {
      findings.push({ kind: 'port-in-use', line });
    } else if (/Invalid config at /.test(line)) {
      // "Invalid config at /data/clawdbot.json:\n- <root>: …" — a literal backslash-n, then the problem lines.
      const problems: string[] = [];
      const inline = line.split('\\n').slice(1);
      for (const part of inline) {
        const p = part.match(PROBLEM_LINE);
        if (p) problems.push(p[1]!);
      }
      for (let j = i + 1; j < lines.length; j++) {
        const next = stripTimestamp((lines[j] ?? '').trim());
        const p = next.match(/^- (\S.*?: .+)$/);
        if (!p) break;
        problems.push(p[1]!);
      }
      findings.push({ kind: 'config-invalid', problems, line });
    } else if (RELOAD_SKIPPED.test(line)) {
      findings.push({ kind: 'reload-skipped', line });
    } else if (CONFIG_MISSING.test(line)) {
      findings.push({ kind: 'config-missing', line });
    } else if (REFUSE_BIND.test(line)) {
      findings.push({ kind: 'refuse-bind', line });
    } else if (OOM.test(line)) {
      findings.push({ kind: 'oom', line });
    } else if (CRASH.test(line)) {
      findings.push({ kind: 'crash', line });
    } else if (PAIRING.test(line)) {
      findings.push({ kind: 'pairing', line });
    } else if (EACCES.test(line)) {
      findings.push({ kind: 'eacces', line });
    } else if (RELOAD_APPLIED.test(line)) {
      findings.push({ kind: 'reload-applied', line });
    } else if (RELOAD_RESTART.test(line)) {
      findings.push({ kind: 'reload-restart', line });
    } else if (SHUTDOWN.test(line)) {
      findings.push({ kind: 'shutdown', line });
    }
  }
  return findings;
}

export function findFirst<K extends LogFinding['kind']>(findings: LogFinding[], kind: K): Extract<LogFinding, { kind: K }> | undefined {
  return findings.find((f) => f.kind === kind) as Extract<LogFinding, { kind: K }> | undefined;
}

export function findLast<K extends LogFinding['kind']>(findings: LogFinding[], kind: K): Extract<LogFinding, { kind: K }> | undefined {
  for (let i = findings.length - 1; i >= 0; i--) if (findings[i]!.kind === kind) return findings[i] as Extract<LogFinding, { kind: K }>;
  return undefined;
}

/**
 * A memory exit: Fly's own oom_killed flag (the kernel OOM killer; exit 137), or 134 = SIGABRT, which is
 * how V8 ends on `Reached heap limit`. A bare 137 is any SIGKILL (e.g. a forced stop), not evidence of memory.
 */
export function isMemoryExit(exitCode: number | undefined, oomKilled?: boolean): boolean {
  return oomKilled === true || exitCode === 134;
}

/** The lock file name pattern in any version: gateway.<8 hex>.lock */
export const LOCK_FILE_RE = /^gateway\.[0-9a-f]{8}\.lock$/;

export interface GatewayLock {
  pid: number;
  createdAt?: string;
  configPath?: string;
  startTime?: number;
}

export function parseLock(text: string): GatewayLock | undefined {
  try {
    const value = JSON.parse(text) as Partial<GatewayLock>;
    if (typeof value.pid !== 'number') return undefined;
    return value as GatewayLock;
  } catch {
    return undefined;
  }
}
