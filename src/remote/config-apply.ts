/**
 * After a config file lands on the machine: watch the gateway's own log for how it took it
 * (gateway.md §5.1 — hybrid reload: `config hot reload applied (…)`, `config change requires
 * gateway restart (…)`, `config reload skipped (invalid config): …`).
 */
import type { FlyClient } from '../fly/client.js';
import type { LogEntry } from '../fly/json.js';
import { classifyLines, stripTimestamp } from '../gateway/logs.js';

export type ReloadReaction =
  | { kind: 'applied'; lines: string[] }
  | { kind: 'restart'; lines: string[] }
  | { kind: 'rejected'; lines: string[] }
  | { kind: 'none'; lines: string[] };

/** `gateway.reload.mode` of a parsed config; the gateway's default is hybrid. */
export function reloadMode(config: unknown): string {
  const mode = (config as { gateway?: { reload?: { mode?: unknown } } } | undefined)?.gateway?.reload?.mode;
  return typeof mode === 'string' ? mode : 'hybrid';
}

/** Log entries at or after `sinceMs` (entries without a timestamp are kept). */
export function entriesSince(entries: LogEntry[], sinceMs: number): LogEntry[] {
  return entries.filter((e) => {
    const t = e.timestamp ? Date.parse(e.timestamp) : Number.NaN;
    return Number.isNaN(t) || t >= sinceMs;
  });
}

/** The first reload verdict in these entries, with the gateway's own lines that explain it. */
export function reactionIn(entries: LogEntry[]): ReloadReaction | undefined {
  const lines = entries.map((e) => stripTimestamp(e.message.trim()));
  const findings = classifyLines(lines);
  for (const finding of findings) {
    if (finding.kind === 'reload-skipped') {
      // the verdict plus the problem lines the gateway printed with it (`- path: message`)
      const at = lines.indexOf(finding.line);
      const detail: string[] = [finding.line];
      for (let i = at + 1; i >= 1 && i < lines.length; i++) {
        if (!/^\s*-\s+\S.*?: /.test(lines[i]!)) break;
        detail.push(lines[i]!.trim());
      }
      const invalid = findings.filter((f) => f.kind === 'config-invalid').flatMap((f) => (f.kind === 'config-invalid' ? f.problems : []));
      return { kind: 'rejected', lines: [...detail, ...invalid.filter((p) => !detail.some((d) => d.includes(p)))] };
    }
    // The gateway could not read (or watch) the file: as fatal as an invalid one on the next boot.
    if (finding.kind === 'eacces' && /config|\.json\b/.test(finding.line)) return { kind: 'rejected', lines: [finding.line] };
    if (finding.kind === 'reload-applied') return { kind: 'applied', lines: [finding.line] };
    if (finding.kind === 'reload-restart') return { kind: 'restart', lines: [finding.line] };
  }
  return undefined;
}

/**
 * Polls `fly logs --no-tail` for the machine until the gateway logs a reload verdict newer than
 * `sinceMs`, or `waitMs` passes. Each poll has its own short timeout (an empty log buffer makes
 * flyctl hang, flyctl.md §2.8). A log fetch that fails is retried until the deadline.
 */
export async function waitForReload(
  fly: FlyClient,
  machineId: string,
  opts: { sinceMs: number; waitMs: number; pollMs?: number; onPoll?: (elapsedMs: number) => void },
): Promise<ReloadReaction> {
  const started = Date.now();
  const deadline = started + opts.waitMs;
  let lastError: unknown;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      const { entries } = await fly.recentLogs({ machineId, timeoutMs: Math.max(1_000, Math.min(5_000, remaining)) });
      const reaction = reactionIn(entriesSince(entries, opts.sinceMs));
      if (reaction) return reaction;
    } catch (error) {
      lastError = error;
    }
    opts.onPoll?.(Date.now() - started);
    const pause = Math.min(opts.pollMs ?? 1_000, deadline - Date.now());
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  }
  return { kind: 'none', lines: lastError instanceof Error ? [`reading logs failed: ${lastError.message}`] : [] };
}
