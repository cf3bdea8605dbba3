// fakefly: `volumes create|list` and `volumes snapshots create|list` (flyctl-day2.md §4).
import { FlyError, out, err, jsonOut } from './output.mjs';
import { newVolumeId, newHex } from './state.mjs';
import { REGIONS, nowIso } from './core.mjs';
import { renderTable } from './commands-apps.mjs';
import { readApp, updateApp } from './app-context.mjs';

// ---------------------------------------------------------------- volumes

const VOLUME_NAME_RE = /^[a-z0-9_]{1,30}$/;

function volumeObject(v) {
  return {
    id: v.id, name: v.name, state: v.state, size_gb: v.size_gb, region: v.region, zone: v.zone, encrypted: v.encrypted,
    attached_machine_id: v.attached_machine_id, attached_alloc_id: null, created_at: v.created_at, host_dedication_id: '',
    snapshot_retention: v.snapshot_retention, auto_backup_enabled: v.auto_backup_enabled, host_status: v.host_status,
  };
}

export function createVolume(s, { app, name, region, sizeGb, encrypted = true, snapshotRetention = 5, scheduledSnapshots = true }) {
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
  const { appName, created } = updateApp(ctx, (s, app, appName) => {
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
    return { appName, created: vols.map(volumeObject) };
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
  const { appName, s } = readApp(ctx);
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
  updateApp(ctx, (s, app, appName) => {
    const vol = snapshotVolumeOf(ctx, s, appName, `failed to snapshot ${ctx.args[0]}`);
    (vol.snapshots ||= []).push({ id: `vs_${newHex(s, 'snapshot', 16)}`, size: 0, volume_size: vol.size_gb * 1024 ** 3, digest: newHex(s, 'digest', 32), created_at: nowIso(), retention_days: 5, listed: 0 });
  });
  out(`Scheduled to snapshot volume ${ctx.args[0]}\n`);
}

/** Oldest first. A new snapshot is listed once as pending (empty id, `running`), then as `created`. */
export function cmdSnapshotsList(ctx) {
  const rows = updateApp(ctx, (s, app, appName) => {
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
