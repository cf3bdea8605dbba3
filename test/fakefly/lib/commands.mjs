// fakefly command implementations. Each handler gets ctx = { dir, env, cwd, flags, args, specified, stdin, backend }.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { FlyError, out, err, jsonOut, aurora } from './output.mjs';
import { withState, readState, newVolumeId, newHex, nextSeq } from './state.mjs';
import {
  REGIONS, flyctlVersion, requireAuth, resolveAppName, gqlApp, flapsApp, appMachines, findMachine, nowIso,
  pushEvent, newMachineRecord, bootMachine, restartMachine, secretDigest, currentSecretValues, newRelease,
  MISSING_APP, authMode, NO_TOKEN,
} from './core.mjs';
import {
  resolveConfigPath, loadAppConfig, normalise, validateConfig, processNames, flatten, toMachineConfig,
  parseRamMiB, parseSizeGB, guestForSize,
} from './appconfig.mjs';
import { shlexSplit } from './shlex.mjs';
import { isClawdbotArgv, runShim } from './machine-shims.mjs';
import { allocateIp } from './commands-network.mjs';

// ---------------------------------------------------------------- version / auth

export function cmdVersion(ctx) {
  const v = flyctlVersion(ctx.env);
  const info = { Name: 'flyctl', Version: v, Commit: 'ad0172face303b77584eea95b46fa3ddc61d5ddd', BranchName: '', BuildDate: '2026-08-21T10:00:00Z', OS: 'linux', Architecture: 'amd64', Environment: 'production' };
  if (ctx.flags.json) out(JSON.stringify(info) + '\n');
  else out(`flyctl v${v} linux/amd64 Commit: ${info.Commit.slice(0, 7)} BuildDate: ${info.BuildDate}\n`);
}

export function cmdWhoami(ctx) {
  const s = readState(ctx.dir);
  requireAuth(ctx, s, 'failed retrieving current user: ');
  if (ctx.flags.json) jsonOut({ email: s.user.email });
  else out(`${s.user.email}\n`);
}

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

function checksSummary(m) {
  const c = m.api.checks || [];
  if (!c.length) return '';
  const n = c.filter((x) => x.status === 'passing').length;
  return n === c.length ? `${c.length} total, ${n} passing` : `${c.length} total, ${n} passing, ${c.length - n} critical`;
}

export function renderTable(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => String(c ?? '').padEnd(w[i])).join('\t').trimEnd()).join('\n') + '\n';
}

// ---------------------------------------------------------------- volumes

const VOLUME_NAME_RE = /^[a-z0-9_]{1,30}$/;

function volumeObject(v) {
  return {
    id: v.id, name: v.name, state: v.state, size_gb: v.size_gb, region: v.region, zone: v.zone, encrypted: v.encrypted,
    attached_machine_id: v.attached_machine_id, attached_alloc_id: null, created_at: v.created_at, host_dedication_id: '',
    snapshot_retention: v.snapshot_retention, auto_backup_enabled: v.auto_backup_enabled, host_status: v.host_status,
  };
}

function createVolume(s, { app, name, region, sizeGb, encrypted = true, snapshotRetention = 5, scheduledSnapshots = true }) {
  const id = newVolumeId(s);
  const v = {
    id, app, name, state: 'created', size_gb: sizeGb, region, zone: newHex(s, 'zone', 4), encrypted,
    attached_machine_id: null, created_at: new Date().toISOString(), snapshot_retention: snapshotRetention,
    auto_backup_enabled: scheduledSnapshots, host_status: 'ok',
  };
  s.volumes[id] = v;
  return v;
}

export function cmdVolumesCreate(ctx) {
  const name = ctx.args[0];
  if (!name) throw new FlyError('accepts 1 arg(s), received 0');
  const appName = resolveAppName(ctx);
  const created = withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    gqlApp(s, appName);
    const region = ctx.flags.region || ctx.env.FLY_REGION;
    if (!region) throw new FlyError('region code must be specified when not running interactively');
    if (!REGIONS.some(([c]) => c === region)) throw new FlyError(`region ${region} not found`);
    const count = ctx.flags.count ?? 1;
    const exists = Object.values(s.volumes).some((v) => v.app === appName && v.name === name && v.state !== 'destroyed');
    if (!ctx.flags.yes && count <= 1 && !exists) {
      err('Warning! Every volume is pinned to a specific physical host. You should create two or more volumes per application to avoid downtime. Learn more at https://fly.io/docs/volumes/overview/\n');
      throw new FlyError('yes flag must be specified when not running interactively');
    }
    if (!VOLUME_NAME_RE.test(name)) throw new FlyError('Validation failed: Name must only contain lowercase letters, numbers, and underscores, and be at most 30 characters');
    const size = ctx.flags.size ?? 1;
    const vols = [];
    for (let i = 0; i < count; i++) {
      vols.push(createVolume(s, {
        app: appName, name, region, sizeGb: size, encrypted: !ctx.flags['no-encryption'],
        snapshotRetention: ctx.flags['snapshot-retention'] ?? 5, scheduledSnapshots: ctx.flags['scheduled-snapshots'] ?? true,
      }));
    }
    return vols.map(volumeObject);
  });
  for (const v of created) {
    if (ctx.flags.json) { jsonOut(v); continue; }
    out(`                  ID: ${v.id}\n                Name: ${v.name}\n                 App: ${appName}\n              Region: ${v.region}\n                Zone: ${v.zone}\n             Size GB: ${v.size_gb}\n           Encrypted: ${v.encrypted}\n          Created at: ${fmtHuman(v.created_at)}\n  Snapshot retention: ${v.snapshot_retention}\n Scheduled snapshots: ${v.auto_backup_enabled}\n`);
  }
}

function fmtHuman(iso) {
  const d = new Date(iso);
  const mon = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  return `${String(d.getUTCDate()).padStart(2, '0')} ${mon} ${String(d.getUTCFullYear()).slice(2)} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')} UTC`;
}

export function cmdVolumesList(ctx) {
  const appName = resolveAppName(ctx);
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  gqlApp(s, appName);
  const vols = Object.values(s.volumes).filter((v) => v.app === appName && (ctx.flags.all || !['destroyed', 'pending_destroy'].includes(v.state)));
  if (ctx.flags.json) return jsonOut(vols.map(volumeObject));
  if (!vols.length) { out('No volumes found\n'); return; }
  out(renderTable([['ID', 'STATE', 'NAME', 'SIZE', 'REGION', 'ZONE', 'ENCRYPTED', 'ATTACHED VM', 'CREATED AT'],
    ...vols.map((v) => [v.id, v.state, v.name, `${v.size_gb}GB`, v.region, v.zone, String(v.encrypted), v.attached_machine_id || '', v.created_at])]));
}

// ---------------------------------------------------------------- volume snapshots (flyctl-day2.md §4)

function snapshotVolumeOf(ctx, s, appName, verb) {
  if (ctx.args.length !== 1) throw new FlyError(`accepts 1 arg(s), received ${ctx.args.length}`);
  const vol = s.volumes[ctx.args[0]];
  if (!vol || vol.app !== appName || vol.state === 'destroyed') throw new FlyError(`${verb}: volume not found (${ctx.args[0]})`);
  return vol;
}

/** Prints only the "Scheduled" line, even with --json; no snapshot id is returned (§4.1). */
export function cmdSnapshotsCreate(ctx) {
  const appName = resolveAppName(ctx);
  withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    gqlApp(s, appName);
    const vol = snapshotVolumeOf(ctx, s, appName, `failed to snapshot ${ctx.args[0]}`);
    (vol.snapshots ||= []).push({ id: `vs_${newHex(s, 'snapshot', 16)}`, size: 0, volume_size: vol.size_gb * 1024 ** 3, digest: newHex(s, 'digest', 32), created_at: nowIso(), retention_days: 5, listed: 0 });
  });
  out(`Scheduled to snapshot volume ${ctx.args[0]}\n`);
}

/** Oldest first. A new snapshot is listed once as pending (empty id, `running`), then as `created`. */
export function cmdSnapshotsList(ctx) {
  const appName = resolveAppName(ctx);
  const rows = withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    gqlApp(s, appName);
    const vol = snapshotVolumeOf(ctx, s, appName, 'failed retrieving snapshots');
    const list = [...(vol.snapshots || [])].sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
    return list.map((snap) => {
      const pending = snap.listed++ === 0;
      return { id: pending ? '' : snap.id, size: snap.size, volume_size: snap.volume_size, digest: snap.digest, created_at: snap.created_at, status: pending ? 'running' : 'created', retention_days: snap.retention_days };
    });
  });
  if (ctx.flags.json) return jsonOut(rows);
  if (!rows.length) { err(`No snapshots available for volume ${ctx.args[0]}\n`); return; }
  out(renderTable([['ID', 'STATUS', 'STORED SIZE', 'VOL SIZE', 'CREATED AT', 'RETENTION DAYS'], ...rows.map((r) => [r.id || '(pending)', r.status, `${r.size} B`, `${r.volume_size / 1024 ** 3} GiB`, r.created_at, String(r.retention_days)])]));
}

// ---------------------------------------------------------------- secrets

function isCharDevice(fd) {
  try { return fs.fstatSync(fd).isCharacterDevice(); } catch { return true; }
}

export function parseSecretsImport(text) {
  const secrets = {};
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  let multi = false;
  let key = '';
  let val = '';
  for (let line of lines) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (Buffer.byteLength(line) >= 65536) break; // bufio.Scanner token limit: parsing silently stops
    if (!multi) {
      if (line.startsWith('#') || line.trim() === '') continue;
      const eq = line.indexOf('=');
      if (eq < 0) throw new FlyError(`Secrets must be provided as NAME=VALUE pairs (${line} is invalid)`);
      const k = line.slice(0, eq).trim();
      let v = line.slice(eq + 1).replace(/^ +/, '');
      const hash = v.indexOf('#');
      if (hash >= 0) {
        const l = v.slice(0, hash);
        if ((l.match(/"/g) || []).length % 2 === 0) v = l.replace(/ +$/, '');
      }
      if (v.startsWith('"""') && v.endsWith('"""') && v.length >= 6) secrets[k] = v.slice(3, -3);
      else if (v.startsWith('"""')) { multi = true; key = k; val = v.slice(3) + '\n'; }
      else {
        // value[1:len(value)-1] in Go: a lone quote (prefix and suffix at once) is a slice-bounds panic.
        const quoted = (v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"));
        if (quoted && v.length < 2) throw new FlyError('panic: runtime error: slice bounds out of range [1:0]', { exitCode: 3 });
        secrets[k] = quoted ? v.slice(1, -1) : v;
      }
    } else if (line.endsWith('"""')) {
      val += line.slice(0, -3);
      secrets[key] = val;
      multi = false; key = ''; val = '';
    } else val += line + '\n';
  }
  return secrets;
}

function setSecretsAndDeploy(ctx, appName, values, unset = []) {
  withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    const app = gqlApp(s, appName);
    for (const [k, v] of Object.entries(values)) app.secrets[k] = { value: v, digest: secretDigest(v), seq: nextSeq(s), updated_at: new Date().toISOString() };
    for (const k of unset) delete app.secrets[k];
    if (ctx.flags.stage) {
      out('Secrets have been staged, but not set on VMs. Deploy or update machines in this app for the secrets to take effect.\n');
      return;
    }
    const machines = appMachines(s, appName);
    if (!app.deployed && machines.length === 0) { out('Secrets are staged for the first deployment\n'); return; }
    const launch = machines.filter((m) => m.api.config?.metadata?.fly_platform_version === 'v2');
    const rel = newRelease(s, app, 'secrets');
    out(`Updating existing machines in '${appName}' with rolling strategy\n`);
    launch.forEach((m, i) => {
      m.fake.appliedSecrets = currentSecretValues(app);
      m.fake.secretsSeq = s.seq; // min_secrets_version: this machine has every secret set so far
      m.api.config.metadata.fly_release_version = String(rel.version);
      m.api.config.metadata.fly_release_id = rel.id;
      m.api.updated_at = nowIso();
      pushEvent(m, { type: 'update', status: 'replacing', source: 'user' });
      if (m.api.state === 'started') restartMachine(ctx, s, m, 'secrets');
      out(`  [${i + 1}/${launch.length}] Machine ${m.api.id} [${m.api.config.metadata.fly_process_group || 'app'}] update succeeded\n`);
    });
    if (!ctx.flags.detach && ctx.flags['dns-checks'] !== false) out(`  Checking DNS configuration for ${appName}.fly.dev\n`);
  });
}

export async function cmdSecretsSet(ctx) {
  const appName = resolveAppName(ctx);
  const values = {};
  for (const a of ctx.args) {
    const eq = a.indexOf('=');
    if (eq < 0) throw new FlyError(`could not parse secrets: '${a}': must be in the format NAME=VALUE`);
    values[a.slice(0, eq)] = a.slice(eq + 1);
  }
  // auth + app check before reading stdin, like flyctl (GetAppCompact comes first)
  const s0 = readState(ctx.dir);
  requireAuth(ctx, s0);
  gqlApp(s0, appName);
  let stdinUsed = false;
  for (const [k, v] of Object.entries(values)) {
    if (v !== '-') continue;
    if (isCharDevice(0)) throw new FlyError(`secret \`${k}\` expects standard input but none provided`);
    const buf = stdinUsed ? Buffer.alloc(0) : await ctx.stdin.readAll();
    stdinUsed = true;
    if (buf.length > 64 * 1024) throw new FlyError(`error reading stdin for '${k}': Input exceeded max length of 65536 bytes`);
    values[k] = buf.toString('utf8').trim();
  }
  if (Object.keys(values).length < 1) throw new FlyError('requires at least one SECRET=VALUE pair');
  setSecretsAndDeploy(ctx, appName, values);
}

export async function cmdSecretsImport(ctx) {
  const appName = resolveAppName(ctx);
  const s0 = readState(ctx.dir);
  requireAuth(ctx, s0);
  gqlApp(s0, appName);
  const buf = process.stdin.isTTY ? Buffer.alloc(0) : await ctx.stdin.readAll();
  const values = parseSecretsImport(buf.toString('utf8'));
  if (Object.keys(values).length < 1) throw new FlyError('requires at least one SECRET=VALUE pair');
  setSecretsAndDeploy(ctx, appName, values);
}

export function cmdSecretsUnset(ctx) {
  const appName = resolveAppName(ctx);
  if (!ctx.args.length) throw new FlyError('requires at least 1 arg(s), only received 0');
  setSecretsAndDeploy(ctx, appName, {}, ctx.args);
}

export function cmdSecretsList(ctx) {
  const appName = resolveAppName(ctx);
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  const app = gqlApp(s, appName);
  const machines = appMachines(s, appName);
  // A machine has a secret once it was created or updated with a secrets version that includes it
  // (flyctl sends min_secrets_version on deploys and `machine update`, flyctl.md §2.6).
  const relSeq = (m) => m.fake.secretsSeq ?? app.releases?.find((r) => String(r.version) === m.api.config?.metadata?.fly_release_version)?.seq;
  const list = Object.entries(app.secrets).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, v]) => {
    let status;
    if (machines.length === 0) status = 'Staged';
    else {
      const n = machines.filter((m) => { const r = relSeq(m); return r !== undefined && v.seq <= r; }).length;
      status = n === 0 ? 'Staged' : n === machines.length ? 'Deployed' : 'Partial';
    }
    return { name, digest: v.digest, status };
  });
  if (ctx.flags.json) return jsonOut(list);
  out(renderTable([['NAME', 'DIGEST', 'STATUS'], ...list.map((x) => [(x.status === 'Staged' ? '* ' : x.status === 'Partial' ? '! ' : '') + x.name, x.digest, x.status])]));
}

// ---------------------------------------------------------------- config validate

export function cmdConfigValidate(ctx) {
  const s = readState(ctx.dir);
  if (authMode(ctx, s) === 'none') throw new FlyError(NO_TOKEN);
  const p = resolveConfigPath(ctx.cwd, ctx.flags.config);
  let cfg;
  if (p) cfg = loadAppConfig(p);
  else {
    const name = ctx.flags.app || ctx.env.FLY_APP;
    if (!name) throw new FlyError(MISSING_APP);
    requireAuth(ctx, s);
    const app = gqlApp(s, name);
    if (!app.lastConfig) throw new FlyError(`failed to get app config: app ${name} has not been deployed`);
    cfg = normalise(app.lastConfig, '');
  }
  if (!(ctx.flags.app || ctx.env.FLY_APP || cfg.app)) throw new FlyError(MISSING_APP);
  const r = validateConfig(cfg);
  out(r.info + '\n');
  if (!r.ok) throw new FlyError('App configuration is not valid');
}

// ---------------------------------------------------------------- deploy

function parseWaitTimeout(v) {
  if (v === undefined || v === 'none') return;
  if (/^\d+$/.test(v)) return;
  if (/^([0-9.]+(ns|us|µs|ms|s|m|h))+$/.test(v)) return;
  throw new FlyError(`invalid duration value "${v}" used for --wait-timeout flag: time: invalid duration "${v}"`);
}

function appURL(cfg) {
  if (cfg.http_service) return true;
  return cfg.services.some((svc) => (svc.ports || []).some((p) => p.port === 443 || p.port === 80));
}

export function cmdDeploy(ctx) {
  const workdir = ctx.args[0] ? path.resolve(ctx.cwd, ctx.args[0]) : ctx.cwd;
  if (ctx.args[0] && !fs.existsSync(workdir)) throw new FlyError(`chdir ${ctx.args[0]}: no such file or directory`);
  const s0 = readState(ctx.dir);
  requireAuth(ctx, s0);
  parseWaitTimeout(ctx.flags['wait-timeout']);
  const cfgPath = resolveConfigPath(workdir, ctx.flags.config);
  let cfg;
  let appName;
  if (cfgPath) {
    cfg = loadAppConfig(cfgPath);
    appName = ctx.flags.app || ctx.env.FLY_APP || cfg.app;
    if (!appName) throw new FlyError(MISSING_APP);
  } else {
    appName = ctx.flags.app || ctx.env.FLY_APP;
    if (!appName) throw new FlyError(MISSING_APP);
    const app = s0.apps[appName];
    if (!app) throw new FlyError(`the app name ${appName} could not be found, did you create the app or misspell it in the fly.toml file or via -a?`);
    if (!app.lastConfig) throw new FlyError(`failed to get app config: app ${appName} has not been deployed`);
    cfg = normalise(app.lastConfig, path.join(workdir, 'fly.toml'));
  }
  const envFlags = ctx.flags.env || [];
  for (const e of envFlags) {
    const eq = e.indexOf('=');
    if (eq < 0) throw new FlyError(`failed parsing environment: '${e}': must be in the format NAME=VALUE`);
    cfg.env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  out('==> Verifying app config\n');
  const v = validateConfig(cfg);
  out(v.info);
  if (!v.ok) throw new FlyError('App configuration is not valid');
  out('--> Verified app config\n');
  if (!s0.apps[appName]) throw new FlyError('app not found');

  // ---- build
  const image = buildImage(ctx, cfg, cfgPath, workdir, appName);
  if (ctx.backend.buildImage) ctx.backend.buildImage(ctx, image, out); // a real image (podman backend)
  if (ctx.flags['build-only']) return;
  out(`\nWatch your deployment at https://fly.io/apps/${appName}/monitoring\n\n`);

  const warnings = withState(ctx.dir, (s) => deployToMachines(ctx, s, cfg, appName, image));
  for (const w of warnings) err(w);
  if (ctx.flags.flycast) out(`\nYour your newly deployed app is available in the organizations' private network under http://${appName}.flycast\n`);
  else if (ctx.flags['no-public-ips']) out('\nYour app is deployed but does not have a public or private IP address\n');
  else if (appURL(cfg)) out(`\nVisit your newly deployed app at ${aurora.green(`https://${appName}.fly.dev/`)}\n\n`);
}

function buildImage(ctx, cfg, cfgPath, workdir, appName) {
  const tag = `deployment-${newTagSuffix()}`;
  const preBuilt = ctx.flags.image || cfg.build?.image;
  if (preBuilt) {
    // deploy_build.go / imgsrc: an image this org's registry holds is used as is (same digest);
    // a registry.fly.io ref it never built, or one pruned since (control.pruneImage), is not found.
    const known = registryImage(readState(ctx.dir), preBuilt);
    if (known === 'missing') {
      out(`==> Building image\nSearching for image '${preBuilt}' remotely...\n`);
      throw new FlyError(`failed to fetch an image or build from source: could not find image "${preBuilt}"`);
    }
    out(`==> Building image\nSearching for image '${preBuilt}' remotely...\nimage found: img_${crypto.createHash('sha256').update(preBuilt).digest('hex').slice(0, 12)}\n`);
    if (known) return known;
    const [repo, t] = preBuilt.split(':');
    return { ref: preBuilt, image_ref: { registry: repo.includes('/') ? repo.split('/')[0] : 'docker-hub-mirror.fly.io', repository: repo, tag: t || 'latest', digest: `sha256:${crypto.createHash('sha256').update(preBuilt).digest('hex')}`, labels: { 'fakefly.prebuilt': 'true' } } };
  }
  let dockerfile;
  if (cfg.build?.dockerfile) dockerfile = path.resolve(cfgPath ? path.dirname(cfgPath) : workdir, cfg.build.dockerfile);
  else if (ctx.flags.dockerfile) dockerfile = path.resolve(workdir, ctx.flags.dockerfile);
  else dockerfile = path.join(workdir, 'Dockerfile');
  if (!fs.existsSync(dockerfile)) {
    if (cfg.build?.dockerfile || ctx.flags.dockerfile) throw new FlyError(`failed to fetch an image or build from source: dockerfile '${dockerfile}' not found`);
    throw new FlyError('failed to fetch an image or build from source: app does not have a Dockerfile or buildpacks configured. See https://fly.io/docs/reference/configuration/#the-build-section');
  }
  const content = fs.readFileSync(dockerfile);
  const dockerfileSha = crypto.createHash('sha256').update(content).digest('hex');
  const buildArgs = { ...(cfg.build?.args || {}) };
  for (const a of ctx.flags['build-arg'] || []) { const eq = a.indexOf('='); if (eq > 0) buildArgs[a.slice(0, eq)] = a.slice(eq + 1); }
  const target = cfg.build?.['build-target'] || cfg.build?.build_target || ctx.flags['build-target'] || '';
  const digest = crypto.createHash('sha256').update(dockerfileSha).update(JSON.stringify(Object.entries(buildArgs).sort())).update(target).digest('hex');
  const how = ctx.flags['local-only'] ? 'Docker' : 'Depot';
  out(`==> Building image\n==> Building image with ${how}\n--> build:  (${dockerfile})\n--> Building image done\n`);
  out(`image: registry.fly.io/${appName}:${tag}\nimage size: 412 MB\n`);
  return {
    ref: `registry.fly.io/${appName}:${tag}`,
    image_ref: {
      registry: 'registry.fly.io', repository: appName, tag, digest: `sha256:${digest}`,
      labels: { 'fakefly.dockerfile_sha256': dockerfileSha, 'fakefly.dockerfile': dockerfile, 'fakefly.build_args': JSON.stringify(buildArgs), 'fakefly.context': workdir, 'fakefly.gateway': gatewayOfContext(workdir) },
    },
  };
}

/**
 * Which gateway the image runs: the package its runtime bundle installs (runtime/package.json of a
 * clawdfly project), so a machine's boot lines are that gateway's own ('clawdbot' when unknown).
 */
function gatewayOfContext(workdir) {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(workdir, 'runtime', 'package.json'), 'utf8'));
    if (pkg.dependencies?.openclaw) return 'openclaw';
  } catch { /* not a clawdfly project: the default */ }
  return 'clawdbot';
}

/** An image an earlier deploy pushed to registry.fly.io (any app of the org), 'missing' when pruned or never built. */
function registryImage(s, ref) {
  if ((s.prunedImages || []).includes(ref)) return 'missing';
  for (const app of Object.values(s.apps || {})) {
    for (const rel of app.releases || []) if (rel.image?.ref === ref) return rel.image;
  }
  return ref.startsWith('registry.fly.io/') ? 'missing' : undefined;
}

let tagCounter = 0;
function newTagSuffix() {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const h = crypto.createHash('sha256').update(`${Date.now()}:${process.pid}:${tagCounter++}:${Math.random()}`).digest('hex');
  let out = '01K';
  for (let i = 0; i < 23; i++) out += alphabet[parseInt(h[i], 16) % 32];
  return out;
}

function attachVolume(s, m, vol, mountIdx) {
  vol.attached_machine_id = m.api.id;
  const mt = m.api.config.mounts[mountIdx];
  m.api.config.mounts[mountIdx] = { encrypted: vol.encrypted, path: mt.path, size_gb: vol.size_gb, volume: vol.id, name: vol.name };
}

function unattached(s, appName, name, region) {
  return Object.values(s.volumes).filter((v) => v.app === appName && v.name === name && !v.attached_machine_id && v.host_status === 'ok'
    && !['destroyed', 'pending_destroy'].includes(v.state) && (region === undefined || v.region === region));
}

function deployToMachines(ctx, s, cfg, appName, image) {
  const app = flapsApp(s, appName);
  const warnings = [];
  const groups = processNames(cfg);
  const all = appMachines(s, appName).filter((m) => m.api.config?.metadata?.fly_platform_version === 'v2');
  const firstDeploy = !app.deployed && all.length === 0;
  const primaryRegion = ctx.flags['primary-region'] || cfg.primary_region;
  const ha = ctx.flags.ha !== false;
  const version = flyctlVersion(ctx.env);

  if (firstDeploy) {
    // deploy_first.go: only an app with no addresses at all gets some, and only with a service.
    if (appURL(cfg) && (app.ips ?? []).length === 0) {
      if (ctx.flags.flycast) {
        out(`Provisioning ip address for ${appName}\n  Private ipv6: ${allocateIp(s, app, 'private_v6').address}\n`);
      } else if (!ctx.flags['no-public-ips']) {
        const v6 = allocateIp(s, app, 'v6');
        const v4 = allocateIp(s, app, 'shared_v4');
        out(`Provisioning ips for ${appName}\n  Dedicated ipv6: ${v6.address}\n  Shared ipv4: ${v4.address}\n  Add a dedicated ipv4 with: fly ips allocate-v4\n\n`);
      }
    }
    // provisionVolumesOnFirstDeploy: unattached volumes grouped by NAME ONLY (any region)
    for (const g of groups) {
      const fc = flatten(cfg, g);
      for (const m of fc.mounts) {
        if (unattached(s, appName, m.source).length > 0) continue;
        if (!primaryRegion) throw new FlyError(`failed to create volume: Region '' cannot host your machine. Please choose a different region.`);
        const size = m.initial_size !== undefined ? parseSizeGB(m.initial_size) : ctx.flags['volume-initial-size'] ?? 1;
        out(`Creating a ${size} GB volume named '${m.source}' for process group '${g}'. Use 'fly vol extend' to increase its size\n`);
        createVolume(s, { app: appName, name: m.source, region: primaryRegion, sizeGb: size, snapshotRetention: m.snapshot_retention ?? 5, scheduledSnapshots: m.scheduled_snapshots ?? true });
      }
    }
  }

  const rel = newRelease(s, app, 'deploy');
  rel.image = { ref: image.ref, image_ref: image.image_ref };
  const meta = { image: image.ref, releaseId: rel.id, releaseVersion: rel.version, flyctlVersion: version };
  const byGroup = Object.fromEntries(groups.map((g) => [g, all.filter((m) => (m.api.config.metadata.fly_process_group || 'app') === g)]));
  const needing = ctx.flags['update-only'] ? [] : groups.filter((g) => byGroup[g].length === 0);
  const stale = all.filter((m) => !groups.includes(m.api.config.metadata.fly_process_group || 'app'));

  // existing machines that gain (or change) a mount need an unattached volume in their own region
  const missing = {};
  for (const g of groups) {
    const fc = flatten(cfg, g);
    if (!fc.mounts.length) {
      for (const m of byGroup[g]) if ((m.api.config.mounts || []).some((x) => x.volume)) {
        out('This machine has a volume attached, but no [mounts] section in fly.toml. Do you still want to continue and detach the volume?\n');
        throw new FlyError('yes flag must be specified when not running interactively');
      }
      continue;
    }
    for (const m of byGroup[g]) {
      const cur = (m.api.config.mounts || [])[0];
      if (cur && cur.name === fc.mounts[0].source) continue;
      const k = `${g}\u0000${fc.mounts[0].source}\u0000${m.api.region}`;
      missing[k] = (missing[k] || 0) + 1;
    }
  }
  for (const [k, n] of Object.entries(missing)) {
    const [g, vname, region] = k.split('\u0000');
    if (unattached(s, appName, vname, region).length < n) {
      throw new FlyError(`Process group '${g}' needs volumes with name '${vname}' to fulfill mounts defined in fly.toml; Run \`fly volume create ${vname} -r REGION -n COUNT\` for the following regions and counts: ${region}=${n}`);
    }
  }
  if (!firstDeploy) {
    for (const g of needing) {
      const fc = flatten(cfg, g);
      if (fc.mounts.length && unattached(s, appName, fc.mounts[0].source).length === 0) {
        throw new FlyError(`creating a new machine in group '${g}' requires an unattached '${fc.mounts[0].source}' volume. Create it with \`fly volume create ${fc.mounts[0].source}\``);
      }
    }
  }

  if (needing.length || stale.length) {
    out(firstDeploy || !stale.length ? 'This deployment will:\n' : 'Process groups have changed. This will:\n');
    for (const m of stale) out(` * destroy 1 "${m.api.config.metadata.fly_process_group}" machine\n`);
    for (const g of needing) {
      const fc = flatten(cfg, g);
      const n = fc.mounts.length || !ha ? 1 : 2;
      out(` * create ${n} "${g}" machine${n > 1 ? 's' : ''}\n`);
    }
    out('\n');
  }

  for (const m of stale) {
    m.api.state = 'destroyed';
    for (const v of Object.values(s.volumes)) if (v.attached_machine_id === m.api.id) v.attached_machine_id = null;
    ctx.backend.stopMachine(ctx, m, s);
  }

  const launch = (g, { standbyFor } = {}) => {
    const fc = flatten(cfg, g);
    const region = primaryRegion || 'iad';
    const config = toMachineConfig(cfg, g, null, meta);
    if (standbyFor) config.standbys = standbyFor;
    const m = newMachineRecord(s, ctx, { app: appName, region, config, imageRef: image.image_ref });
    if (fc.mounts.length) {
      const vol = unattached(s, appName, fc.mounts[0].source, region)[0];
      if (!vol) throw new FlyError(`error creating machine configuration: New machine in group '${g}' needs an unattached volume named '${fc.mounts[0].source}' in region '${region}'`);
      attachVolume(s, m, vol, 0);
    }
    m.fake.appliedSecrets = currentSecretValues(app);
    m.fake.secretsSeq = s.seq; // min_secrets_version: this machine has every secret set so far
    s.machines[m.api.id] = m;
    ctx.backend.createMachine(ctx, m);
    pushEvent(m, { type: 'launch', status: 'created', source: 'user' });
    if (standbyFor) { m.api.state = 'stopped'; } else bootMachine(ctx, s, m);
    return m;
  };

  const groupsWithAutostop = [];
  for (const g of needing) {
    out(`No machines in group ${g}, launching a new machine\n`);
    const first = launch(g);
    const fc = flatten(cfg, g);
    if (fc.services.some((svc) => svc.auto_stop_machines === true || svc.auto_stop_machines === 'stop')) groupsWithAutostop.push(g);
    if (!ha || fc.mounts.length) continue;
    if (fc.services.length) {
      out('Creating a second machine for high availability and zero downtime deployments.\n');
      out('To disable this, set "min_machines_running = 0" in your fly.toml.\n');
      launch(g);
    } else {
      out(`Creating a standby machine for ${first.api.id}\n`);
      launch(g, { standbyFor: [first.api.id] });
    }
  }
  if (needing.length) err('Finished launching new machines\n');
  if (groupsWithAutostop.length) out(`\n\n${aurora.yellow(`NOTE: The machines for [${groupsWithAutostop.sort().join(',')}] have services with 'auto_stop_machines = "stop"' that will be stopped when idling`)}\n\n`);

  const updating = groups.flatMap((g) => byGroup[g]);
  if (updating.length) {
    out(`Updating existing machines in '${appName}' with ${cfg.deploy?.strategy || 'rolling'} strategy\n`);
    updating.forEach((m, i) => {
      const g = m.api.config.metadata.fly_process_group || 'app';
      const old = (m.api.config.mounts || [])[0];
      const next = toMachineConfig(cfg, g, m.api.config, meta);
      if (next.mounts?.length) {
        if (old && old.name === next.mounts[0].name) next.mounts = [{ ...old, path: next.mounts[0].path }];
        else {
          if (old?.volume && s.volumes[old.volume]) s.volumes[old.volume].attached_machine_id = null;
          const vol = unattached(s, appName, next.mounts[0].name, m.api.region)[0];
          vol.attached_machine_id = m.api.id;
          next.mounts = [{ encrypted: vol.encrypted, path: next.mounts[0].path, size_gb: vol.size_gb, volume: vol.id, name: vol.name }];
        }
      }
      m.api.config = next;
      m.api.image_ref = image.image_ref;
      m.fake.appliedSecrets = currentSecretValues(app);
      m.fake.secretsSeq = s.seq; // min_secrets_version: this machine has every secret set so far
      m.fake.updates = (m.fake.updates || 0) + 1;
      pushEvent(m, { type: 'update', status: 'replacing', source: 'user' });
      if (m.api.state === 'started' || m.api.state === 'stopped' && !(m.api.config.standbys || []).length) restartMachine(ctx, s, m, 'deploy');
      out(`  [${i + 1}/${updating.length}] Machine ${m.api.id} [${g}] update succeeded\n`);
    });
  }
  out(`Finished deploying\n`);

  // flyctl's listen-address check (warnAboutIncorrectListenAddress), once per group
  for (const g of groups) {
    const m = appMachines(s, appName).find((x) => x.api.state === 'started' && (x.api.config.metadata.fly_process_group || 'app') === g);
    if (!m) continue;
    const ports = [...new Set((m.api.config.services || []).filter((x) => x.protocol === 'tcp').map((x) => x.internal_port))];
    const listen = m.fake.listen || [];
    const sockets = listen.flatMap((l) => l.addresses);
    if (!ports.length || !sockets.length) continue;
    const covered = (p) => sockets.some((a) => (a.startsWith('0.0.0.0:') || a.startsWith('[::]:')) && a.endsWith(`:${p}`));
    const uncovered = ports.filter((p) => !covered(p));
    if (!uncovered.length) continue;
    let w = `\n${'WARNING'} The app is not listening on the expected address and will not be reachable by fly-proxy.\n`;
    w += 'You can fix this by configuring your app to listen on the following addresses:\n';
    for (const p of uncovered) w += `  - 0.0.0.0:${p}\n`;
    w += 'Found these processes inside the machine with open listening sockets:\n';
    w += renderTable([['PROCESS', 'ADDRESSES'], ...listen.map((l) => [l.command, l.addresses.join(', ')])]);
    w += '\n';
    warnings.push(w);
  }

  app.deployed = true;
  app.lastConfig = cfg.raw;
  app.lastImage = image.image_ref;
  return warnings;
}

// ---------------------------------------------------------------- machines

export function cmdMachineList(ctx) {
  const appName = resolveAppName(ctx);
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  flapsApp(s, appName, 'failed to list VMs: ');
  const ms = appMachines(s, appName);
  if (ctx.flags.json) return jsonOut(ms.map((m) => m.api));
  if (ctx.flags.quiet) { for (const m of ms) out(`${m.api.id}\n`); return; }
  if (!ms.length) { out(`No machines are available on this app ${appName}\n`); return; }
  out(`${ms.length} machines have been retrieved from app ${appName}.\nView them in the UI here (\u200bhttps://fly.io/apps/${appName}/machines/)\n\n`);
  out(renderTable([['ID', 'NAME', 'STATE', 'CHECKS', 'REGION', 'ROLE', 'IMAGE', 'IP ADDRESS', 'VOLUME', 'CREATED', 'LAST UPDATED', 'PROCESS GROUP', 'SIZE'],
    ...ms.map((m) => [m.api.id, m.api.name, m.api.state, checksSummary(m), m.api.region, '', `${m.api.image_ref?.repository}:${m.api.image_ref?.tag}`, m.api.private_ip,
      m.api.config.mounts?.[0]?.volume || '', m.api.created_at, m.api.updated_at, m.api.config.metadata?.fly_process_group || '',
      `${m.api.config.guest?.cpu_kind}:${m.api.config.guest?.cpus}:${m.api.config.guest?.memory_mb}MB`])]));
}

function requireMachineIds(ctx) {
  if (!ctx.args.length) throw new FlyError('a machine ID must be specified when not running interactively');
}

export function cmdMachineRestart(ctx) {
  requireMachineIds(ctx);
  const appName = resolveAppName(ctx);
  withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    flapsApp(s, appName);
    const ms = ctx.args.map((id) => findMachine(s, appName, id));
    for (const m of ms) {
      out(`Restarting machine ${m.api.id}\n`);
      pushEvent(m, { type: 'restart', status: 'stopping', source: 'user' });
      restartMachine(ctx, s, m, 'restart');
      out(`Machine ${m.api.id} restarted successfully!\n`);
    }
  });
}

export function cmdMachineStart(ctx) {
  requireMachineIds(ctx);
  const appName = resolveAppName(ctx);
  withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    flapsApp(s, appName);
    for (const id of ctx.args) {
      const m = findMachine(s, appName, id);
      if (m.api.state !== 'started') {
        pushEvent(m, { type: 'start', status: 'starting', source: 'user' });
        m.fake.starts = (m.fake.starts || 0) + 1;
        bootMachine(ctx, s, m);
      }
      out(`${m.api.id} has been started\n`);
    }
  });
}

export function cmdMachineStop(ctx) {
  requireMachineIds(ctx);
  const appName = resolveAppName(ctx);
  withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    flapsApp(s, appName);
    for (const id of ctx.args) {
      const m = findMachine(s, appName, id);
      out(`Sending kill signal to machine ${m.api.id}...\n`);
      if (m.api.state === 'started') {
        pushEvent(m, { type: 'exit', status: 'stopped', source: 'flyd', request: { exit_event: { exit_code: 0, oom_killed: false, requested_stop: true, restarting: false, signal: -1, exited_at: new Date().toISOString() }, restart_count: 0 } });
        ctx.backend.stopMachine(ctx, m, s);
      }
      m.api.state = 'stopped';
      out(`${m.api.id} has been successfully stopped\n`);
    }
  });
}

const CPUS_PER_KIND = { shared: [1, 2, 4, 6, 8], performance: [1, 2, 4, 6, 8, 10, 12, 14, 16, 32, 64, 128] };

function validateGuest(g) {
  const doc = 'https://fly.io/docs/machines/guides-examples/machine-sizing/';
  const fail = (reason, description, suggestion) => { throw new FlyError(reason, { description, suggestion, docUrl: doc }); };
  const valid = CPUS_PER_KIND[g.cpu_kind];
  if (!valid) fail('invalid CPU kind', `The CPU kind given: ${g.cpu_kind}, is not valid`, `Valid values are [shared performance]`);
  if (!valid.includes(g.cpus)) fail('invalid number of CPUs', `For the CPU kind ${g.cpu_kind}, ${g.cpus} CPUs is not valid`, `Valid numbers are [${valid.join(' ')}]`);
  const inc = g.cpu_kind === 'shared' ? 256 : 1024;
  if (g.memory_mb % inc !== 0) {
    const sug = g.memory_mb - (g.memory_mb % inc) || inc;
    fail('invalid memory size', `${g.memory_mb}MiB of memory is not valid`, `Memory size must be in a ${inc} MiB increment (${sug}MiB would work)`);
  }
  const min = (g.cpu_kind === 'shared' ? 256 : 2048) * g.cpus;
  const max = (g.cpu_kind === 'shared' ? 2048 : 8192) * g.cpus;
  if (g.memory_mb < min) fail('memory size for config is too low', `For ${g.cpu_kind} VMs with ${g.cpus} CPUs, ${g.memory_mb}MiB of memory is too low`, `Try setting memory to a value >= ${min}MiB for the config changes requested`);
  if (g.memory_mb > max) fail('memory size for config is too high', `For ${g.cpu_kind} VMs with ${g.cpus} CPUs, ${g.memory_mb}MiB of memory is too high`, `Try setting memory to a value <= ${max}MiB for the config changes requested`);
}

function stableStringify(v) {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableStringify(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

export function cmdMachineUpdate(ctx) {
  requireMachineIds(ctx);
  const appName = resolveAppName(ctx);
  const id = ctx.args[0];
  withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    flapsApp(s, appName);
    const m = findMachine(s, appName, id);
    if (m.api.host_status !== 'ok') throw new FlyError('the machine is on an unreachable host, try again later');
    const conf = structuredClone(m.api.config);
    conf.guest = conf.guest ? { ...conf.guest } : guestForSize('shared-cpu-1x');
    if (ctx.specified.has('vm-size')) conf.guest = { ...conf.guest, ...guestForSize(ctx.flags['vm-size']) };
    if (ctx.specified.has('vm-cpus')) {
      conf.guest.cpus = ctx.flags['vm-cpus'];
      if (conf.guest.cpus <= 0) throw new FlyError(`--vm-cpus must be greater than zero, got: ${conf.guest.cpus}`);
    }
    if (ctx.specified.has('vm-memory')) {
      const mb = parseRamMiB(ctx.flags['vm-memory']);
      if (mb === 0) throw new FlyError('--vm-memory cannot be zero');
      conf.guest.memory_mb = mb;
    }
    if (ctx.specified.has('vm-cpu-kind')) {
      conf.guest.cpu_kind = ctx.flags['vm-cpu-kind'];
      if (!['shared', 'performance'].includes(conf.guest.cpu_kind)) throw new FlyError("--vm-cpu-kind must be set to 'shared' or 'performance'");
    }
    for (const [flag, key] of [['env', 'env'], ['metadata', 'metadata']]) {
      for (const kv of ctx.flags[flag] || []) {
        const eq = kv.indexOf('=');
        if (eq < 0) throw new FlyError(`invalid key/value pairs specified for flag ${flag}`);
        (conf[key] ||= {})[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
    }
    if (ctx.specified.has('command')) {
      const c = String(ctx.flags.command).trim();
      conf.init = { ...(conf.init || {}) };
      if (c === '') delete conf.init.cmd;
      else {
        try { conf.init.cmd = shlexSplit(c); } catch (e) { throw new FlyError(`invalid command: ${e.message}`); }
      }
    }
    if (ctx.flags.image) conf.image = ctx.flags.image;
    if (!ctx.flags.yes) {
      if (stableStringify(conf) === stableStringify(m.api.config)) throw new FlyError('no config changes found');
      out(`Configuration changes to be applied to machine: ${m.api.id} (${m.api.name})\n\n${diffLines(m.api.config, conf)}\n`);
      throw new FlyError('yes flag must be specified when not running interactively');
    }
    validateGuest(conf.guest);
    out(`Updating machine ${m.api.id}\n`);
    const wasStarted = m.api.state === 'started';
    m.api.config = conf;
    m.api.updated_at = nowIso();
    m.fake.appliedSecrets = currentSecretValues(s.apps[appName]);
    m.fake.secretsSeq = s.seq; // min_secrets_version: this machine has every secret set so far
    m.fake.updates = (m.fake.updates || 0) + 1;
    pushEvent(m, { type: 'update', status: 'replacing', source: 'user' });
    if (wasStarted) restartMachine(ctx, s, m, 'update');
    else if (!ctx.flags['skip-start']) { m.fake.starts = (m.fake.starts || 0) + 1; bootMachine(ctx, s, m); }
    out(`Machine ${m.api.id} updated successfully!\n`);
    out(`\nMonitor machine status here:\nhttps://fly.io/apps/${appName}/machines/${m.api.id}\n`);
  });
}

function diffLines(a, b) {
  const A = JSON.stringify(a, null, 2).split('\n');
  const B = JSON.stringify(b, null, 2).split('\n');
  const setA = new Set(A);
  const setB = new Set(B);
  return [...A.filter((l) => !setB.has(l)).map((l) => `-${l}`), ...B.filter((l) => !setA.has(l)).map((l) => `+${l}`)].join('\n');
}

export function cmdMachineStatus(ctx) {
  requireMachineIds(ctx);
  const appName = resolveAppName(ctx);
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  flapsApp(s, appName);
  const m = findMachine(s, appName, ctx.args[0]);
  const a = m.api;
  const c = a.config;
  out(`Machine ID: ${a.id}\nInstance ID: ${a.instance_id}\nState: ${a.state}\nHostStatus: ${a.host_status}\n\n`);
  const vm = [['ID', a.id], ['Instance ID', a.instance_id], ['State', a.state], ['Image', `${a.image_ref?.repository}:${a.image_ref?.tag}`], ['Name', a.name],
    ['Private IP', a.private_ip], ['Region', a.region], ['Process Group', c.metadata?.fly_process_group || ''], ['CPU Kind', c.guest?.cpu_kind], ['vCPUs', c.guest?.cpus],
    ['Memory', c.guest?.memory_mb], ['Created', a.created_at], ['Updated', a.updated_at], ['Entrypoint', (c.init?.entrypoint || []).join(' ')], ['Command', (c.init?.cmd || []).join(' ')]];
  if (c.mounts?.length) vm.push(['Volume', c.mounts[0].volume]);
  out('VM\n' + vm.map(([k, v]) => `  ${k.padStart(13)} = ${v ?? ''}`).join('\n') + '\n\n');
  const events = (a.events || []).map((e) => {
    const fields = [];
    const x = e.request?.MonitorEvent?.exit_event || e.request?.exit_event;
    if (e.type === 'exit' && x) fields.push(`exit_code=${x.exit_code},oom_killed=${!!x.oom_killed},requested_stop=${!!x.requested_stop}`);
    return [e.status, e.type, e.source, new Date(e.timestamp).toISOString(), fields.join(' ')];
  });
  out('Event Logs\n' + renderTable([['STATE', 'EVENT', 'SOURCE', 'TIMESTAMP', 'INFO'], ...events]));
}

// ---------------------------------------------------------------- logs

function logEntryObject(e) {
  return {
    level: e.level, instance: e.instance, message: e.message, region: e.region, timestamp: e.timestamp,
    meta: { Instance: e.instance, Region: e.region, Event: { Provider: e.provider }, HTTP: { Request: { ID: '', Method: '', Version: '' }, Response: { status_code: 0 } }, Error: { Code: 0, Message: '' }, URL: { Full: '' } },
  };
}

const LEVEL_COLOR = { debug: aurora.cyan, info: aurora.blue, warn: aurora.yellow, warning: aurora.yellow };

function renderLogLine(e) {
  const ts = e.timestamp.replace(/\.\d+Z$/, 'Z');
  const who = e.provider ? (e.instance ? `${e.provider}[${e.instance}]` : e.provider) : e.instance;
  const lvl = (LEVEL_COLOR[e.level] || aurora.red)(e.level);
  return `${aurora.faint(ts)} ${who} ${aurora.green(e.region)} [${lvl}]${e.message}\n`;
}

export async function cmdLogs(ctx) {
  const appName = resolveAppName(ctx);
  const s0 = readState(ctx.dir);
  requireAuth(ctx, s0);
  if (!s0.apps[appName]) throw new FlyError('404 Not Found');
  const machine = ctx.flags.machine;
  const region = ctx.flags.region || (machine ? '' : ctx.env.FLY_REGION || '');
  let lastSeq = 0;
  const fetchPage = () => {
    const s = readState(ctx.dir);
    const app = s.apps[appName];
    if (!app) throw new FlyError('404 Not Found');
    return (app.logs || []).filter((e) => e.seq > lastSeq && (!machine || e.instance === machine) && (!region || e.region === region));
  };
  let wait = 64;
  for (;;) {
    const page = fetchPage();
    if (page.length) {
      for (const e of page) {
        if (ctx.flags.json) jsonOut(logEntryObject(e));
        else out(renderLogLine(e));
        lastSeq = e.seq;
      }
      if (ctx.flags['no-tail']) return;
      wait = 64;
    } else {
      if (ctx.flags['no-tail'] && ctx.env.FAKEFLY_LOGS_EMPTY_EXIT === '1') return;
      wait = Math.min(wait * 2, 4096);
    }
    await new Promise((r) => setTimeout(r, Math.min(wait, ctx.flags['no-tail'] ? wait : 250)));
  }
}

// ---------------------------------------------------------------- ssh console

export async function cmdSshConsole(ctx) {
  const appName = resolveAppName(ctx);
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  gqlApp(s, appName, 'failed to get app: ');
  const started = appMachines(s, appName).filter((m) => m.api.state === 'started');
  let m;
  if (ctx.flags.machine) {
    m = started.find((x) => x.api.id === ctx.flags.machine);
    if (!m) throw new FlyError(`--machine="${ctx.flags.machine}" not found/started`);
  } else {
    if (!started.length) throw new FlyError(`app ${appName} has no started VMs.\nIt may be unhealthy or not have been deployed yet.\nTry the following command to verify:\n\nfly status`);
    m = started[0];
    if (started.length > 1) out(`No machine specified, using ${m.api.id} in region ${m.api.region}\n`);
  }
  const command = ctx.flags.command;
  if (command === undefined || command === '') throw new FlyError('fakefly: interactive ssh sessions are not supported; pass -C/--command');
  if (!ctx.flags.quiet) err(`Connecting to ${m.api.private_ip}... complete\n`);
  let argv;
  try { argv = shlexSplit(command); } catch (e) { argv = null; err(`${e.message}\n`); }
  let res;
  if (!argv || !argv.length) res = { code: 1, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  else if (!ctx.backend.realProcesses && (['kill'].includes(argv[0].split('/').pop()) || isClawdbotArgv(argv))) {
    const r = runShim(ctx.dir, appName, m.api.id, argv);
    res = { code: r.code, stdout: Buffer.from(r.stdout), stderr: Buffer.from(r.stderr) };
  } else {
    const env = { ...(m.api.config.env || {}), ...(m.fake.appliedSecrets || {}), FLY_APP_NAME: appName, FLY_MACHINE_ID: m.api.id, FLY_REGION: m.api.region, FLY_PRIVATE_IP: m.api.private_ip, FLY_IMAGE_REF: m.api.config.image || '' };
    res = await ctx.backend.exec(ctx, m, argv, {
      stdin: process.stdin.isTTY ? null : ctx.stdin.stream(),
      env,
      onStdinBytes: (n) => ctx.stdin.count(n),
    });
  }
  withState(ctx.dir, (st) => { (st.ssh ||= []).push({ app: appName, machine: m.api.id, command, exitCode: res.code, ts: new Date().toISOString() }); });
  // flyctl passes any amount of output through (flyctl-day2.md §6.2); the process exits right after
  // these writes, and a pipe takes only ~64 KB at once: write synchronously, or the rest is lost.
  for (const stream of [process.stdout, process.stderr]) stream._handle?.setBlocking?.(true);
  process.stdout.write(res.stdout);
  process.stderr.write(res.stderr);
  if (res.code !== 0) throw new FlyError(`ssh shell: Process exited with status ${res.code}`);
}

// ---------------------------------------------------------------- platform / orgs

export function cmdPlatformRegions(ctx) {
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  const list = [...REGIONS].sort((a, b) => (a[1] < b[1] ? -1 : 1)).map(([code, name]) => ({ code, name, latitude: 0, longitude: 0, gateway_available: true, requires_paid_plan: false, deprecated: false, capacity: 'high', geo_region: '', mpg_available: false }));
  if (ctx.flags.json) return jsonOut(list);
  out(renderTable([['NAME', 'CODE'], ...list.map((r) => [r.name, r.code])]));
}

export function cmdPlatformVmSizes(ctx) {
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  const { GUEST_PRESETS } = APPCONFIG;
  if (ctx.flags.json) return jsonOut(GUEST_PRESETS);
  out(renderTable([['NAME', 'CPU CORES', 'MEMORY'], ...Object.entries(GUEST_PRESETS).map(([n, g]) => [n, g.cpus, `${g.memory_mb} MB`])]));
}

export function cmdOrgsList(ctx) {
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  if (ctx.flags.json) return jsonOut(Object.fromEntries(s.orgs.map((o) => [o.slug, o.name])));
  out(renderTable([['Name', 'Slug', 'Type'], ...s.orgs.map((o) => [o.name, o.slug, o.type])]));
}

import * as APPCONFIG from './appconfig.mjs';

