/**
 * The gateway's own readiness answer (`GET /readyz`, runtime.health.ready), read the same way by
 * deploy verification, upgrade's go/no-go and doctor. Measured on openclaw 2026.9.6
 * (test/fixtures/openclaw-health/): 503 `{"ready":false,"failing":["startup-sidecars"],…}` while it
 * starts, 200 `{"ready":true,"failing":[],…}` once `[gateway] ready` is logged; later a channel that
 * stays unhealthy past its connect grace is named in `failing` by its id (`discord`).
 */
import type { GatewayRuntime } from './runtime.js';

/** `failing` entries that are parts of the gateway itself, not a channel (dist/server-start-*.mjs createReadinessChecker). */
const GATEWAY_PARTS = [/^startup-/, /^gateway-draining$/, /^agent-database:/, /^plugin-reload$/, /^state-database$/, /^internal$/];

export interface Readiness {
  /** HTTP status of the answer. */
  status: number;
  ready: boolean;
  /** Everything the gateway names as not ready. */
  failing: string[];
  /** Of those, the channels (discord, telegram, whatsapp, signal, …). */
  channels: string[];
  /** Still starting (a `startup-*` entry): wait, it is not a failure yet. */
  starting: boolean;
}

/** Reads a /readyz answer; undefined when it is not one (another server, a proxy's error page). */
export function parseReadiness(status: number, bodyText: string): Readiness | undefined {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || typeof (body as { ready?: unknown }).ready !== 'boolean') return undefined;
  const raw = (body as { failing?: unknown }).failing;
  // names come from the machine: kept short and printable before they reach a terminal
  const failing = (Array.isArray(raw) ? raw : []).filter((f): f is string => typeof f === 'string').map((f) => f.replace(/[^\w:.@-]/g, '?').slice(0, 80));
  const ready = (body as { ready: boolean }).ready && status === 200;
  return {
    status,
    ready,
    failing,
    channels: failing.filter((f) => !GATEWAY_PARTS.some((re) => re.test(f))),
    starting: failing.some((f) => f.startsWith('startup-')),
  };
}

/** The ready endpoint's URL under the app's base URL (`https://<app>.fly.dev/readyz`); undefined when the runtime has none. */
export function readinessUrl(runtime: GatewayRuntime, baseUrl: string): string | undefined {
  return runtime.health ? new URL(runtime.health.ready, baseUrl).toString() : undefined;
}

/**
 * One GET of the ready endpoint. Throws on a network error; undefined when the answer is not the
 * gateway's. openclaw names what is failing only to a loopback client or one that sends its gateway
 * token as a bearer token (dist/server-start-*.mjs shouldIncludeGatewayProbeDetails); to anyone else
 * it answers `{"ready":false}` (seen in the image, through a port mapping). So the project's token
 * goes in the Authorization header, and only over HTTPS or to loopback, never in plain text elsewhere.
 */
export async function fetchReadiness(url: string, timeoutMs: number, token?: string): Promise<Readiness | undefined> {
  const target = new URL(url);
  const safe = target.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname);
  const headers: Record<string, string> = token && safe ? { authorization: `Bearer ${token}` } : {};
  const response = await fetch(url, { redirect: 'manual', headers, signal: AbortSignal.timeout(timeoutMs) });
  const text = (await response.text()).slice(0, 64 * 1024);
  return parseReadiness(response.status, text);
}

/** `discord, telegram` or `startup-sidecars` for a message. */
export function describeFailing(readiness: Readiness): string {
  return readiness.failing.length ? readiness.failing.join(', ') : `HTTP ${readiness.status}, no details (the gateway token was not accepted)`;
}
