/**
 * flyctl JSON, parsed with zod. Keys are compared case-insensitively: flyctl's casing drifted
 * between versions (secrets list `Name` → `name`; GraphQL types use Go field names).
 */
import { ClawdflyError } from '../errors.js';
import { redact } from '../ui/redact.js';
import { z } from 'zod';

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

export const VersionSchema = z.object({ version: z.string() }).loose();

export const WhoamiSchema = z.object({ email: z.string() }).loose();

export const AppStatusSchema = z
  .object({
    name: z.string(),
    status: z.string().optional(),
    deployed: z.boolean().optional(),
    hostname: z.string().optional(),
    machines: z.array(z.unknown()).nullish(),
  })
  .loose();

export const VolumeSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    state: z.string().optional(),
    size_gb: z.number().optional(),
    region: z.string(),
    attached_machine_id: z.string().nullish(),
  })
  .loose();
export type Volume = z.infer<typeof VolumeSchema>;

/** `ips list --json` (GraphQL struct: PascalCase keys, read case-insensitively). */
export const IpAddressSchema = z.object({ address: z.string(), type: z.string(), region: z.string().optional() }).loose();
export type IpAddress = z.infer<typeof IpAddressSchema>;

export const SecretSchema = z.object({ name: z.string(), digest: z.string().optional(), status: z.string().optional() }).loose();
export type SecretInfo = z.infer<typeof SecretSchema>;

const ExitEventSchema = z
  .object({
    exit_code: z.number().optional(),
    guest_exit_code: z.number().optional(),
    oom_killed: z.boolean().optional(),
    requested_stop: z.boolean().optional(),
    signal: z.number().optional(),
    exited_at: z.string().optional(),
  })
  .loose();

export const MachineEventSchema = z
  .object({
    type: z.string(),
    status: z.string().optional(),
    source: z.string().optional(),
    timestamp: z.number().optional(),
    request: z
      .object({
        exit_event: ExitEventSchema.optional(),
        // Note the capitalised key: some events nest the exit here (flyctl.md §2.9).
        MonitorEvent: z.object({ exit_event: ExitEventSchema.optional() }).loose().nullish(),
        restart_count: z.number().optional(),
      })
      .loose()
      .nullish(),
  })
  .loose();
export type MachineEvent = z.infer<typeof MachineEventSchema>;

export const MachineSchema = z
  .object({
    id: z.string(),
    name: z.string().optional(),
    state: z.string(),
    region: z.string().optional(),
    image_ref: z.object({ repository: z.string().optional(), tag: z.string().optional(), digest: z.string().optional(), labels: z.record(z.string(), z.string()).nullish() }).loose().nullish(),
    config: z
      .object({
        init: z.object({ cmd: z.array(z.string()).nullish(), entrypoint: z.array(z.string()).nullish(), exec: z.array(z.string()).nullish() }).loose().nullish(),
        guest: z.object({ cpu_kind: z.string().optional(), cpus: z.number().optional(), memory_mb: z.number().optional() }).loose().nullish(),
        env: z.record(z.string(), z.string()).nullish(),
        mounts: z.array(z.object({ path: z.string(), volume: z.string().optional(), name: z.string().optional(), size_gb: z.number().optional() }).loose()).nullish(),
        services: z.array(z.object({ internal_port: z.number().optional() }).loose()).nullish(),
        restart: z.object({ policy: z.string().optional(), max_retries: z.number().optional() }).loose().nullish(),
        metadata: z.record(z.string(), z.string()).nullish(),
        image: z.string().optional(),
      })
      .loose()
      .nullish(),
    events: z.array(MachineEventSchema).nullish(),
    checks: z.array(z.object({ name: z.string().optional(), status: z.string().optional(), output: z.string().optional() }).loose()).nullish(),
  })
  .loose();
export type Machine = z.infer<typeof MachineSchema>;

export const LogEntrySchema = z
  .object({ level: z.string().optional(), instance: z.string().optional(), message: z.string(), region: z.string().optional(), timestamp: z.string().optional() })
  .loose();
export type LogEntry = z.infer<typeof LogEntrySchema>;

/** The exit of a machine event, wherever flyctl put it (MonitorEvent preferred, like flyctl). */
export function exitOf(event: MachineEvent): z.infer<typeof ExitEventSchema> | undefined {
  return event.request?.MonitorEvent?.exit_event ?? event.request?.exit_event ?? undefined;
}
