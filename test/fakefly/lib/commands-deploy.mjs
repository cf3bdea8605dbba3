// fakefly: `config validate` and `deploy` (build or --image, then create/update the machines).
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { FlyError, out, err, aurora } from './output.mjs';
import { withState, readState } from './state.mjs';
import { flyctlVersion, requireAuth, gqlApp, flapsApp, appMachines, pushEvent, newMachineRecord, bootMachine, restartMachine, currentSecretValues, newRelease, MISSING_APP, authMode, NO_TOKEN } from './core.mjs';
import { resolveConfigPath, loadAppConfig, normalise, validateConfig, processNames, flatten, toMachineConfig, parseSizeGB } from './appconfig.mjs';
import { allocateIp } from './commands-network.mjs';
import { renderTable } from './commands-apps.mjs';
import { createVolume } from './commands-volumes.mjs';

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

/**
 * An image an earlier deploy pushed to registry.fly.io (any app of the org), 'missing' when pruned or
 * never built. A digest ref (`registry.fly.io/<app>@sha256:…`, a tag before the `@` allowed) names
 * the pushed image with that digest in that repository: the same image, its image_ref unchanged
 * (invented: the tag real Fly reports for a machine deployed by digest is not known), gone once the
 * tag it was pushed under is pruned.
 */
function registryImage(s, ref) {
  if ((s.prunedImages || []).includes(ref)) return 'missing';
  const byDigest = /^registry\.fly\.io\/([^:@]+)(?::[^@]*)?@(sha256:[0-9a-f]{64})$/.exec(ref);
  for (const app of Object.values(s.apps || {})) {
    for (const rel of app.releases || []) {
      if (rel.image?.ref === ref) return rel.image;
      const pushed = rel.image?.image_ref;
      if (byDigest && pushed?.registry === 'registry.fly.io' && pushed.repository === byDigest[1] && pushed.digest === byDigest[2]) {
        return (s.prunedImages || []).includes(rel.image.ref) ? 'missing' : { ref, image_ref: pushed };
      }
    }
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
