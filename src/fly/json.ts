/**
 * flyctl JSON, parsed with zod. Keys are compared case-insensitively: flyctl's casing drifted
 * between versions (secrets list `Name` → `name`; GraphQL types use Go field names).
 */
import { ClawdflyError } from '../errors.js';
import { redact } from '../ui/redact.js';
import type { z } from 'zod';
// The schemas themselves live in ./schemas.ts, loaded when a flyctl answer is parsed (zod is a
// large module a command that never calls flyctl, such as `doctor --offline`, should not load).
import type * as S from './schemas.js';

/**
 * Lower-cases the keys of an object (or of each object in an array), one level deep, so `Name`
 * and `name` read the same. Not deeper: maps such as a machine's env keep their keys.
 */
export function lowerKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lowerKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]));
  }
  return value;
}

/**
 * `logs --json` and `volumes create --json` print concatenated pretty-printed documents, not NDJSON.
 * Text around them (a `[gateway] …` line) is skipped: a span that does not parse is not a document.
 */
export function parseConcatenatedJson(text: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if ((ch === '}' || ch === ']') && depth > 0) {
      depth--;
      if (depth === 0 && start >= 0) {
        try {
          values.push(JSON.parse(text.slice(start, i + 1)));
        } catch {
          // not JSON (e.g. "[gateway] …"): resume right after where this span began
          i = start;
        }
        start = -1;
      }
    }
  }
  return values;
}

/** flyctl printed something that is not JSON (an HTML 502 page from a proxy, a plain-text error). */
function notJson(text: string, what: string): ClawdflyError {
  const html = /<(!doctype html|html|head|body)\b/i.test(text);
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1]?.trim();
  const firstLine = text.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
  const shown = redact(html ? (title ? `an HTML page titled "${title}"` : 'an HTML page') : firstLine ? `"${firstLine}"` : 'nothing').slice(0, 200);
  return new ClawdflyError(`flyctl ${what} did not answer with JSON: it printed ${shown}`, {
    hint: html ? 'Fly\'s API or a proxy in between answered with an error page: run the command again in a minute (status: https://status.flyio.net)' : 'run the same flyctl command by hand to see what it says',
    code: 'flyctl-not-json',
  });
}

export function parseJson<T>(schema: z.ZodType<T>, text: string, what: string, opts: { caseInsensitive?: boolean } = {}): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    const first = parseConcatenatedJson(text)[0];
    if (first === undefined) throw notJson(text, what);
    raw = first;
  }
  const result = schema.safeParse(opts.caseInsensitive ? lowerKeys(raw) : raw);
  if (!result.success) {
    throw new ClawdflyError(`flyctl ${what} answered with JSON clawdfly does not understand: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, {
      hint: 'check `flyctl version` (clawdfly needs ≥ 0.4.80), then run the command again',
      code: 'flyctl-unexpected-json',
    });
  }
  return result.data;
}

export type Volume = z.infer<typeof S.VolumeSchema>;
export type IpAddress = z.infer<typeof S.IpAddressSchema>;
export type SecretInfo = z.infer<typeof S.SecretSchema>;
export type MachineEvent = z.infer<typeof S.MachineEventSchema>;
export type Machine = z.infer<typeof S.MachineSchema>;
export type LogEntry = z.infer<typeof S.LogEntrySchema>;
export type ExitEvent = z.infer<typeof S.ExitEventSchema>;

/** The exit of a machine event, wherever flyctl put it (MonitorEvent preferred, like flyctl). */
export function exitOf(event: MachineEvent): ExitEvent | undefined {
  return event.request?.MonitorEvent?.exit_event ?? event.request?.exit_event ?? undefined;
}
