/**
 * Public or private: how the gateway is reached. A public app has Fly's public addresses and
 * https://<app>.fly.dev/; a private one has only a Flycast address (`private_v6`), reachable inside
 * the organization's private network, and from a laptop through `fly proxy` (`clawdfly open`).
 *
 * Flycast traffic goes through Fly's proxy to the machine's internal_port exactly like public
 * traffic, so the gateway's `--bind lan` (IPv4 0.0.0.0) serves both: only `<app>.internal`
 * (straight to the machine's 6PN IPv6 address) would need `::`, and clawdfly never uses it.
 */
import type { IpAddress } from '../fly/json.js';

export type Exposure = 'public' | 'private';

/** Addresses that make the app reachable from the internet. */
export const PUBLIC_IP_TYPES = new Set(['v4', 'v6', 'shared_v4']);
/** Flycast: app-wide, private network only, routed through Fly's proxy. */
export const FLYCAST_IP_TYPE = 'private_v6';
/** [http_service] serves plain HTTP on port 80: the port a Flycast client (and `fly proxy`) targets. */
export const FLYCAST_SERVICE_PORT = 80;

export function exposureOf(answers: { network?: Exposure } | undefined): Exposure {
  return answers?.network === 'private' ? 'private' : 'public';
}

/** The URL the Control UI has: https://<app>.fly.dev/, or http://<app>.flycast/ inside the private network. */
export function appUrl(app: string, exposure: Exposure = 'public'): string {
  if (exposure === 'private') return `http://${app}.flycast/`;
  // The test suite's stand-in for the public URL.
  return process.env['CLAWDFLY_APP_URL'] || `https://${app}.fly.dev/`;
}

export interface IpFacts {
  public: IpAddress[];
  flycast: IpAddress[];
}

export function classifyIps(ips: IpAddress[]): IpFacts {
  return {
    public: ips.filter((ip) => PUBLIC_IP_TYPES.has(ip.type)),
    flycast: ips.filter((ip) => ip.type === FLYCAST_IP_TYPE),
  };
}

/** "2a09:… (v6), 66.241.… (shared_v4)" for evidence lines. */
export function describeIps(ips: IpAddress[]): string {
  return ips.length === 0 ? 'none' : ips.map((ip) => `${ip.address} (${ip.type})`).join(', ');
}

/** What releasing the public addresses breaks, said before it happens. */
export const GOING_PRIVATE_BREAKS =
  'https://<app>.fly.dev/ stops answering: bookmarks, webhooks and anything else that reaches the gateway from the internet break; open it with `clawdfly open` (a tunnel) instead';
