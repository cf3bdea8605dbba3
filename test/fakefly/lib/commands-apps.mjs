// fakefly: `apps create|list|destroy` and `status`.
import { FlyError, out, err, jsonOut } from './output.mjs';
import { withState, readState, nextSeq } from './state.mjs';
import { requireAuth, resolveAppName, gqlApp, appMachines, nowIso } from './core.mjs';

// ---------------------------------------------------------------- apps

const APP_NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function orgBasic(o) {
  return { ID: o.id, InternalNumericID: o.internalNumericId, Name: o.name, Slug: o.slug, RawSlug: o.rawSlug, PaidPlan: !!o.paidPlan };
}

function zeroCert() {
  return {
    ID: '', AcmeDNSConfigured: false, AcmeALPNConfigured: false, Configured: false, CertificateAuthority: '', CreatedAt: '0001-01-01T00:00:00Z',
    DNSProvider: '', DNSValidationInstructions: '', DNSValidationHostname: '', DNSValidationTarget: '', Hostname: '', Source: '', ClientStatus: '',
    IsApex: false, IsWildcard: false, Issued: { Nodes: null },
  };
}

function zeroImage() { return { Registry: '', Repository: '', Tag: '', Version: '', Digest: '' }; }

function orgFull(o, { full = true } = {}) {
  return {
    ID: full ? o.id : '', InternalNumericID: full ? o.internalNumericId : '', Name: o.name, RemoteBuilderImage: '', RemoteBuilderApp: null,
    Slug: o.slug, RawSlug: full ? o.rawSlug : '', Type: full ? o.type : '', PaidPlan: full ? !!o.paidPlan : false, Billable: false, Settings: null,
    Domains: { Nodes: null, Edges: null }, WireGuardPeer: null, WireGuardPeers: { Nodes: null, Edges: null },
    DelegatedWireGuardTokens: { Nodes: null, Edges: null }, LoggedCertificates: null, LimitedAccessTokens: null,
  };
}

function currentRelease(app) {
  const r = app.releases?.[app.releases.length - 1];
  if (!r) return null;
  return { ID: '', Version: 0, Stable: false, InProgress: false, Reason: '', Description: '', Status: 'complete', DeploymentStrategy: '', Metadata: null, User: { ID: '', Name: '', Email: '', EnablePaidHobby: false }, EvaluationID: '', CreatedAt: r.created_at, ImageRef: '' };
}

/** fly-go App struct with Go field names (GraphQL types have no json tags). */
function appObject(s, app, { listMode = false } = {}) {
  const org = s.orgs.find((o) => o.slug === app.org) || s.orgs[0];
  return {
    ID: app.name, InternalNumericID: listMode ? 0 : app.internalNumericId, Name: app.name, State: listMode ? '' : app.deployed ? 'deployed' : 'pending',
    Status: app.deployed ? 'deployed' : 'pending', Deployed: !!app.deployed, Hostname: `${app.name}.fly.dev`, AppURL: listMode ? '' : `https://${app.name}.fly.dev`,
    Version: listMode ? 0 : app.releases?.length || 0, NetworkID: 0, Network: app.network || 'default',
    Release: null, Organization: orgFull(org, { full: !listMode }), Secrets: null, CurrentRelease: listMode ? currentRelease(app) : null,
    Releases: { Nodes: null }, IPAddresses: { Nodes: null }, SharedIPAddress: '', IPAddress: null, Certificates: { Nodes: null },
    Certificate: zeroCert(), PostgresAppRole: null, Image: null, ImageUpgradeAvailable: false, ImageVersionTrackingEnabled: false,
    ImageDetails: zeroImage(), LatestImageDetails: zeroImage(), PlatformVersion: 'machines', LimitedAccessTokens: null, CurrentLock: null,
  };
}

export function cmdAppsCreate(ctx) {
  const positional = ctx.args[0];
  const flagName = ctx.flags.name;
  if (positional && flagName && positional !== flagName) throw new FlyError(`two app names specified ${positional} and ${flagName}, only one may be specified`);
  let name = positional || flagName;
  const result = withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    if (ctx.flags['generate-name'] && !name) name = `${['weathered', 'sparkling', 'icy', 'polished'][s.seq % 4]}-${['dust', 'night', 'glade', 'bird'][(s.seq >> 2) % 4]}-${1000 + (s.seq * 37) % 9000}`;
    if (!name) throw new FlyError('name argument or flag must be specified when not running interactively');
    const orgSlug = ctx.flags.org || ctx.env.FLY_ORG || ctx.env.FLY_ORGANIZATION;
    let org;
    if (orgSlug) {
      org = s.orgs.find((o) => o.slug === orgSlug);
      if (!org) throw new FlyError(`organization ${orgSlug} not found`);
    } else if (s.orgs.length === 1 && s.orgs[0].type === 'PERSONAL') {
      org = s.orgs[0];
      err(`automatically selected personal organization: ${org.name}\n`);
    } else throw new FlyError('org slug must be specified when not running interactively');
    if (!APP_NAME_RE.test(name)) throw new FlyError('Validation failed: Name under 63 chars using numbers, lowercase letters and dashes');
    const taken = (ctx.env.FAKEFLY_TAKEN_NAMES || '').split(',').map((x) => x.trim()).filter(Boolean);
    if (s.apps[name] || taken.includes(name)) {
      throw new FlyError('Validation failed: Name has already been taken', { suggestion: 'App names are unique across all of Fly.io, not just your organization, so this name is probably in use by someone else. Try a different name.' });
    }
    s.apps[name] = {
      name, org: org.slug, network: ctx.flags.network || '', internalNumericId: 1000000 + nextSeq(s), createdAt: nowIso(),
      deployed: false, releases: [], secrets: {}, logs: [], lastConfig: null,
    };
    return appObject(s, s.apps[name]);
  });
  if (ctx.flags.json) jsonOut(result);
  else out(`New app created: ${name}\n`);
}

export function cmdAppsList(ctx) {
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  let apps = Object.values(s.apps);
  if (ctx.flags.org) apps = apps.filter((a) => a.org === ctx.flags.org);
  if (ctx.flags.json) return jsonOut(apps.map((a) => appObject(s, a, { listMode: true })));
  if (ctx.flags.quiet) { for (const a of apps) out(`${a.name}\n`); return; }
  const rows = [['NAME', 'OWNER', 'STATUS', 'LATEST DEPLOY'], ...apps.map((a) => [a.name, a.org, a.deployed ? 'deployed' : 'pending', a.releases?.at(-1)?.created_at || ''])];
  out(renderTable(rows));
}

export function cmdAppsDestroy(ctx) {
  const name = ctx.args[0] || ctx.flags.app;
  if (!name) throw new FlyError('name argument or flag must be specified when not running interactively');
  withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    gqlApp(s, name, '');
    if (!ctx.flags.yes) throw new FlyError('yes flag must be specified when not running interactively');
    for (const m of appMachines(s, name, { includeDestroyed: true })) delete s.machines[m.api.id];
    for (const [id, v] of Object.entries(s.volumes)) if (v.app === name) delete s.volumes[id];
    delete s.apps[name];
  });
  out(`Destroyed app ${name}\n`);
}

// ---------------------------------------------------------------- status

export function cmdStatus(ctx) {
  const name = resolveAppName(ctx);
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  if (ctx.flags.watch && ctx.flags.json) throw new FlyError('--watch and --json are not supported together');
  const app = gqlApp(s, name);
  const org = s.orgs.find((o) => o.slug === app.org) || s.orgs[0];
  const machines = appMachines(s, name).filter((m) => m.api.config?.metadata?.fly_platform_version === 'v2')
    .sort((a, b) => (a.api.id < b.api.id ? 1 : -1));
  if (ctx.flags.json) {
    const obj = {
      AppURL: `https://${name}.fly.dev`, Deployed: !!app.deployed, Hostname: `${name}.fly.dev`, ID: name,
      Machines: machines.map((m) => m.api), Name: name, Organization: orgBasic(org), PlatformVersion: 'machines',
      Status: app.deployed ? 'deployed' : 'pending', Version: app.releases?.length || 0,
    };
    if (app.network) obj.Network = app.network;
    return jsonOut(Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : 1))));
  }
  const img = machines[0]?.api.image_ref;
  out(`App\n  Name     = ${name}\n  Owner    = ${app.org}\n  Hostname = ${name}.fly.dev\n  Image    = ${img ? `${img.repository}:${img.tag}` : '-'}\n\n`);
  if (!machines.length) { out('Machines\nNo machines are available on this app\n'); return; }
  const rows = [['PROCESS', 'ID', 'VERSION', 'REGION', 'STATE', 'ROLE', 'CHECKS', 'LAST UPDATED'], ...machines.map((m) => [
    m.api.config.metadata?.fly_process_group || 'app', m.api.id, m.api.config.metadata?.fly_release_version || '', m.api.region, m.api.state, '',
    checksSummary(m), m.api.updated_at])];
  out('Machines\n' + renderTable(rows));
}

export function checksSummary(m) {
  const c = m.api.checks || [];
  if (!c.length) return '';
  const n = c.filter((x) => x.status === 'passing').length;
  return n === c.length ? `${c.length} total, ${n} passing` : `${c.length} total, ${n} passing, ${c.length - n} critical`;
}

export function renderTable(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => String(c ?? '').padEnd(w[i])).join('\t').trimEnd()).join('\n') + '\n';
}
