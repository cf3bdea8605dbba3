/**
 * Showing gateway log lines: each line classified with the gateway's own patterns
 * (src/gateway/logs.ts) and marked — listening, errors, out of memory, lock — so the line that
 * matters stands out; `--since` filters by the entry's timestamp.
 */
import { UsageError } from '../errors.js';
import { classifyLines, type LogFinding } from '../gateway/logs.js';
import { style } from '../ui/style.js';
import { untrusted } from '../ui/output.js';

export type Mark = 'listening' | 'error' | 'oom' | 'lock' | 'pairing';

const MARK_OF: Partial<Record<LogFinding['kind'], Mark>> = {
  listening: 'listening',
  oom: 'oom',
  lock: 'lock',
  'port-in-use': 'error',
  'config-invalid': 'error',
  'config-missing': 'error',
  'refuse-bind': 'error',
  crash: 'error',
  eacces: 'error',
  'reload-skipped': 'error',
  pairing: 'pairing',
};

const LABEL: Record<Mark, (t: string) => string> = {
  listening: (t) => style.ok(style.bold(t)),
  error: (t) => style.bad(style.bold(t)),
  oom: (t) => style.bad(style.bold(t)),
  lock: (t) => style.warn(style.bold(t)),
  pairing: (t) => style.warn(style.bold(t)),
};

const TAG: Record<Mark, string> = {
  listening: '[listening]',
  error: '[error]',
  oom: '[out of memory]',
  lock: '[lock]',
  pairing: '[pairing]',
};

/** What a log message is, if it is one of the lines worth marking. */
export function markOf(message: string, level?: string): Mark | undefined {
  const finding = classifyLines([message])[0];
  const mark = finding ? MARK_OF[finding.kind] : undefined;
  if (mark) return mark;
  if (level && /^(error|fatal|crit)/i.test(level)) return 'error';
  return undefined;
}

export interface ShownLine {
  timestamp?: string;
  instance?: string;
  region?: string;
  level?: string;
  message: string;
  mark?: Mark;
}

export function renderLine(line: ShownLine): string {
  const head = [line.timestamp ? style.dim(line.timestamp.replace(/\.\d+Z$/, 'Z')) : undefined, line.instance ? style.dim(untrusted(line.instance)) : undefined]
    .filter(Boolean)
    .join(' ');
  const tag = line.mark ? `${LABEL[line.mark](TAG[line.mark])} ` : '';
  // the gateway's text, as the machine logged it: through the output filter before any colour of ours
  const text = untrusted(line.message);
  const message = line.mark ? LABEL[line.mark](text) : text;
  return `${head ? `${head} ` : ''}${tag}${message}`;
}

/** flyctl's text log line: `<time> <provider>[<instance>] <region> [<level>] <message>`. */
const TEXT_LINE = /^(\d{4}-\d{2}-\d{2}T\S+)\s+(\S+?)(?:\[([^\]]*)\])?\s+(\S+)\s+\[(\w+)\]\s?(.*)$/;

export function parseTextLine(text: string): ShownLine {
  const m = text.match(TEXT_LINE);
  if (!m) return { message: text, mark: markOf(text) };
  const [, timestamp, , instance, region, level, message = ''] = m;
  return { timestamp, instance: instance || undefined, region, level, message, mark: markOf(message, level) };
}

/** `--since 10m` / `2h` / `1d` / `90s`, or an ISO time: the earliest time to show (ms since the epoch). */
export function parseSince(value: string, now = Date.now()): number {
  const m = value.trim().match(/^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/i);
  if (m) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]!.toLowerCase() as 's' | 'm' | 'h' | 'd'];
    return now - Number(m[1]) * unit;
  }
  const t = Date.parse(value);
  if (!Number.isNaN(t)) return t;
  throw new UsageError(`--since "${value}" is not a duration or a time`, '--since 10m  (s, m, h, d), or --since 2026-01-25T10:00:00Z', 'bad-since');
}

export function isAtOrAfter(timestamp: string | undefined, since: number | undefined): boolean {
  if (since === undefined || !timestamp) return true;
  const t = Date.parse(timestamp);
  return Number.isNaN(t) || t >= since;
}
