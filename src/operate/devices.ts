/**
 * The gateway's device pairing, read from its own CLI (`<gateway cli> devices list --json`, which prints
 * `{pending: [...], paired: [...]}`). Pending requests carry `ts` (ms) and the client's
 * `displayName` / `clientId` / `platform` / `remoteIp` in 2026.1.24-3 (infra/device-pairing).
 */
import { redact } from '../ui/redact.js';
import { ClawdflyError } from '../errors.js';
import { parseConcatenatedJson } from '../fly/json.js';

export interface PendingDevice {
  requestId: string;
  deviceId: string;
  client: string;
  role: string;
  ip?: string;
  /** Request time in ms since the epoch, when known. */
  ts?: number;
  repair: boolean;
}

export interface PairedDevice {
  deviceId: string;
  client: string;
  roles: string[];
  ip?: string;
  approvedAt?: number;
}

export interface DeviceList {
  pending: PendingDevice[];
  paired: PairedDevice[];
}

type Raw = Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

function timeOf(...values: unknown[]): number | undefined {
  for (const v of values) {
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (typeof v === 'string') {
      const t = Date.parse(v);
      if (!Number.isNaN(t)) return t;
    }
  }
  return undefined;
}

function clientOf(d: Raw): string {
  const name = str(d['displayName']) ?? str(d['client']) ?? str(d['clientId']);
  const platform = str(d['platform']);
  const mode = str(d['clientMode']);
  const parts = [name ?? 'unknown client', platform && platform !== name ? platform : undefined, mode && mode !== name ? mode : undefined].filter(Boolean);
  return parts.join(' · ');
}

/** The devices document from the CLI's stdout (anything else it printed around it is ignored). */
export function parseDeviceList(stdout: string): DeviceList {
  const doc = findDocument(stdout);
  if (!doc) throw new ClawdflyError(`the gateway's "devices list --json" printed no device list: ${redact(stdout.trim()).slice(0, 200) || '(nothing)'}`, { code: 'devices-unreadable', hint: 'clawdfly logs  (is the gateway running?)' });
  const list = (v: unknown): Raw[] => (Array.isArray(v) ? v.filter((x): x is Raw => !!x && typeof x === 'object') : []);
  const pending = list(doc['pending'])
    .filter((d) => str(d['requestId']))
    .map((d) => ({
      requestId: str(d['requestId'])!,
      deviceId: str(d['deviceId']) ?? '?',
      client: clientOf(d),
      role: str(d['role']) ?? 'operator',
      ip: str(d['remoteIp']),
      ts: timeOf(d['ts'], d['requestedAt'], d['createdAt']),
      repair: d['isRepair'] === true,
    }))
    .sort((a, b) => (b.ts ?? 0) - (a.ts ?? 0));
  const paired = list(doc['paired']).map((d) => ({
    deviceId: str(d['deviceId']) ?? '?',
    client: clientOf(d),
    roles: Array.isArray(d['roles']) ? (d['roles'] as unknown[]).filter((r): r is string => typeof r === 'string') : str(d['role']) ? [str(d['role'])!] : [],
    ip: str(d['remoteIp']),
    approvedAt: timeOf(d['approvedAtMs'], d['approvedAt']),
  }));
  return { pending, paired };
}

const isDeviceDoc = (v: unknown): v is Raw => !!v && typeof v === 'object' && !Array.isArray(v) && ('pending' in v || 'paired' in v);

/**
 * The CLI prints the document with JSON.stringify(…, null, 2), possibly after other lines (warnings,
 * `[plugins] …`), which a bracket scanner would take for JSON: try each line that opens an object.
 */
function findDocument(stdout: string): Raw | undefined {
  const end = stdout.lastIndexOf('}');
  for (const m of stdout.matchAll(/^\s*\{/gm)) {
    try {
      const value: unknown = JSON.parse(stdout.slice(m.index, end + 1));
      if (isDeviceDoc(value)) return value;
    } catch {
      // not the document; try the next one
    }
  }
  try {
    return parseConcatenatedJson(stdout).find(isDeviceDoc);
  } catch {
    return undefined;
  }
}

/** "42s", "3m", "2h", "5d" — the gateway CLI's own age format. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}
