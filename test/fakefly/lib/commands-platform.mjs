// fakefly: `version`, `auth whoami`, `platform regions|vm-sizes`, `orgs list`.
import * as APPCONFIG from './appconfig.mjs';
import { out, jsonOut } from './output.mjs';
import { readState } from './state.mjs';
import { flyctlVersion, requireAuth } from './core.mjs';
import { renderTable } from './commands-apps.mjs';

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
