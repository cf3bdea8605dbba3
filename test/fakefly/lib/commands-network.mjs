// fakefly: `ips …`, `proxy` and `tokens …` (flyctl-day2.md §1–§3).
// An app's addresses live in state as app.ips = [{ id, address, type, region, createdAt }].
import crypto from 'node:crypto';
import net from 'node:net';
import http from 'node:http';
import { FlyError, out, err, jsonOut } from './output.mjs';
import { withState, readState, newHex } from './state.mjs';
import { requireAuth, resolveAppName, gqlApp, nowIso } from './core.mjs';

const TYPE_CELL = {
  v4: ['v4', 'public ingress (dedicated, $2/mo)'],
  shared_v4: ['v4', 'public ingress (shared)'],
  v6: ['v6', 'public ingress (dedicated)'],
  private_v6: ['v6', 'private ingress'],
};

function ipObject(ip) {
  return { ID: ip.id, Address: ip.address, Type: ip.type, Region: ip.region, CreatedAt: ip.createdAt, ServiceName: '', Network: null };
}

function newAddress(s, type) {
  if (type === 'shared_v4') return `66.241.125.${(s.seq % 250) + 2}`;
  if (type === 'v4') return `137.66.${(s.seq % 250) + 2}.${((s.seq * 7) % 250) + 2}`;
  if (type === 'private_v6') return `fdaa:0:1a2b:0:1::${newHex(s, 'ip6', 2)}`;
  return `2a09:8280:1::${newHex(s, 'ip6', 2)}:${newHex(s, 'ip6', 4)}:0`;
}

/** Adds an address to the app (state already locked). Shared v4 has no ID and no region, as in flyctl. */
export function allocateIp(s, app, type) {
  app.ips ??= [];
  const shared = type === 'shared_v4';
  const ip = {
    id: shared ? '' : `ip_${newHex(s, 'ip', 8)}`,
    address: newAddress(s, type),
    type,
    region: shared ? '' : 'global',
    createdAt: shared ? '0001-01-01T00:00:00Z' : nowIso(),
  };
  app.ips.push(ip);
  return ip;
}

function row(ip, when) {
  const [version, cell] = TYPE_CELL[ip.type] ?? [ip.type, ip.address.startsWith('fdaa') ? 'private' : 'public'];
  return `${version} │ ${ip.address} │ ${cell} │ ${ip.region} │ ${when}`;
}

function appFor(ctx) {
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  const name = resolveAppName(ctx);
  gqlApp(s, name);
  return name;
}

export function cmdIpsList(ctx) {
  const name = appFor(ctx);
  const ips = readState(ctx.dir).apps[name].ips ?? [];
  if (ctx.flags.json) return jsonOut(ips.map(ipObject));
  out('VERSION │ IP │ TYPE │ REGION │ CREATED AT\n');
  for (const ip of ips) out(`${row(ip, 'just now')}\n`);
  out('\nLearn more about Fly.io public, private, shared and dedicated IP addresses in our docs: https://fly.io/docs/networking/services/\n');
}

export function cmdIpsAllocateV6(ctx) {
  const name = appFor(ctx);
  const ip = withState(ctx.dir, (s) => allocateIp(s, s.apps[name], ctx.flags.private ? 'private_v6' : 'v6'));
  out(`VERSION │ IP │ TYPE │ REGION │ CREATED AT\n${row(ip, 'just now')}\n\n`);
}

export function cmdIpsAllocateV4(ctx) {
  const name = appFor(ctx);
  if (ctx.flags.shared) {
    const ip = withState(ctx.dir, (s) => allocateIp(s, s.apps[name], 'shared_v4'));
    out(`VERSION │ IP │ TYPE │ REGION\nv4 │ ${ip.address} │ shared │ global\n\n`);
    return;
  }
  if (!ctx.flags.yes) throw new FlyError('yes flag must be specified when not running interactively');
  const ip = withState(ctx.dir, (s) => allocateIp(s, s.apps[name], 'v4'));
  out(`VERSION │ IP │ TYPE │ REGION │ CREATED AT\n${row(ip, 'just now')}\n\n`);
}

/** Sequential, like flyctl: an invalid address stops the loop after the earlier ones were released. */
export function cmdIpsRelease(ctx) {
  const name = appFor(ctx);
  if (ctx.args.length === 0) throw Object.assign(new FlyError('requires at least 1 arg(s), only received 0'), { usage: 'Usage:\n  flyctl ips release [flags] ADDRESS ADDRESS ...' });
  for (const address of ctx.args) {
    if (net.isIP(address) === 0) throw new FlyError(`Invalid IP address: '${address}'`);
    withState(ctx.dir, (s) => {
      const app = s.apps[name];
      const index = (app.ips ?? []).findIndex((ip) => ip.address === address);
      if (index < 0) throw new FlyError(`Could not find IP address ${address} for app ${name}`);
      app.ips.splice(index, 1);
    });
    out(`Released ${address} from ${name}\n`);
  }
}

export function cmdIpsPrivate(ctx) {
  const name = appFor(ctx);
  const s = readState(ctx.dir);
  const machines = Object.values(s.machines).filter((m) => m.app === name && m.api.state === 'started');
  if (ctx.flags.json) return jsonOut(machines.map((m) => m.api.private_ip).filter(Boolean));
  out('ID │ REGION │ IP\n');
  for (const m of machines) out(`${m.api.id} │ ${m.api.region} │ ${m.api.private_ip ?? ''}\n`);
}

/**
 * `fly proxy L[:R] [host]`: listens on 127.0.0.1:L for real, answers every request with a small
 * page naming the remote it stands for, prints the one readiness line, and exits 0 on SIGINT/SIGTERM
 * (or at stdin EOF with --watch-stdin). FAKEFLY_PROXY_DELAY_MS delays the listener (tunnel set-up).
 */
export async function cmdProxy(ctx) {
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  const app = ctx.flags.app || ctx.env.FLY_APP;
  if (ctx.flags.select && !app) throw new FlyError('--app required when --select flag provided');
  if (!app && !ctx.flags.org) throw new FlyError('org slug must be specified when not running interactively');
  if (ctx.args.length < 1 || ctx.args.length > 2) throw Object.assign(new FlyError(`accepts between 1 and 2 arg(s), received ${ctx.args.length}`), { usage: 'Usage:\n  flyctl proxy <local:remote> [remote_host] [flags]' });
  const [localText, remoteText = localText] = ctx.args[0].split(':');
  const host = ctx.args[1] ?? `${app}.internal`;
  if (app) gqlApp(s, app, 'failed to get app: ');
  const appName = host.replace(/\.(flycast|internal)$/, '');
  if (!s.apps[appName] || (host.endsWith('.internal') && !Object.values(s.machines).some((m) => m.app === appName && m.api.state === 'started'))) {
    throw new FlyError(`${host}: host was not found in DNS`);
  }
  const delay = Number(ctx.env.FAKEFLY_PROXY_DELAY_MS || 0);
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><title>fakefly proxy</title><p>${host}:${remoteText}${req.url}</p>\n`);
  });
  const bindAddr = ctx.flags['bind-addr'] || '127.0.0.1';
  await new Promise((resolve, reject) => {
    server.once('error', (e) => reject(e.code === 'EADDRINUSE' ? new FlyError(`listen tcp ${bindAddr}:${localText}: bind: address already in use`) : e));
    server.listen(Number(localText), bindAddr, resolve);
  });
  const port = server.address().port;
  out(`Proxying localhost:${port} to remote [${host}]:${remoteText}\n`);
  withState(ctx.dir, (st) => { (st.proxies ??= []).push({ pid: process.pid, app: appName, host, local: port, remote: Number(remoteText), at: nowIso() }); });
  await new Promise((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM']) {
      process.removeAllListeners(sig);
      process.on(sig, resolve);
    }
    if (ctx.flags['watch-stdin']) {
      process.stdin.on('end', resolve);
      process.stdin.resume();
    }
  });
  server.close();
  server.closeAllConnections?.();
}

/** `tokens create deploy`: one `FlyV1 fm2_…` line (or {"token": …}); the token is remembered so tests can follow it. */
export function cmdTokensCreateDeploy(ctx) {
  const expiry = ctx.flags.expiry;
  if (expiry !== undefined && !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^0$/.test(expiry)) {
    throw Object.assign(new FlyError(`invalid argument "${expiry}" for "-x, --expiry" flag: time: unknown unit "${expiry.replace(/^[\d.]+/, '').slice(0, 1)}" in duration "${expiry}"`), { usage: 'Usage:\n  flyctl tokens create deploy [flags]' });
  }
  const name = appFor(ctx);
  const part = () => `fm2_${crypto.randomBytes(48).toString('base64')}`;
  const token = `FlyV1 ${part()},${part()}`;
  withState(ctx.dir, (s) => {
    (s.tokens ??= []).push({ id: `tok_${newHex(s, 'tok', 8)}`, app: name, name: ctx.flags.name || 'flyctl deploy token', expiry: expiry ?? '175200h0m0s', token, createdAt: nowIso() });
  });
  if (ctx.flags.json) jsonOut({ token });
  else out(`${token}\n`);
}

export function cmdTokensList(ctx) {
  const name = appFor(ctx);
  const tokens = (readState(ctx.dir).tokens ?? []).filter((t) => t.app === name);
  out(`Tokens for app "${name}":\nID │ NAME │ CREATED BY │ EXPIRES AT │ REVOKED AT\n`);
  for (const t of tokens) out(`${t.id} │ ${t.name} │ tester@example.com │ 2046-08-21 10:00:00 +0000 UTC │ \n`);
  err('');
}
