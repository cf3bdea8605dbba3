// fly.toml handling for fakefly: load, normalise, validate (subset of flyctl's
// internal/appconfig/validation.go) and convert to machine configs (appconfig/machines.go).
import fs from 'node:fs';
import path from 'node:path';
import { parseToml, TomlError } from './toml.mjs';
import { shlexSplit, ShlexError } from './shlex.mjs';
import { FlyError, aurora } from './output.mjs';

export const GUEST_PRESETS = {
  'shared-cpu-1x': { cpu_kind: 'shared', cpus: 1, memory_mb: 256 },
  'shared-cpu-2x': { cpu_kind: 'shared', cpus: 2, memory_mb: 512 },
  'shared-cpu-4x': { cpu_kind: 'shared', cpus: 4, memory_mb: 1024 },
  'shared-cpu-8x': { cpu_kind: 'shared', cpus: 8, memory_mb: 2048 },
  'performance-1x': { cpu_kind: 'performance', cpus: 1, memory_mb: 2048 },
  'performance-2x': { cpu_kind: 'performance', cpus: 2, memory_mb: 4096 },
  'performance-4x': { cpu_kind: 'performance', cpus: 4, memory_mb: 8192 },
  'performance-8x': { cpu_kind: 'performance', cpus: 8, memory_mb: 16384 },
  'performance-16x': { cpu_kind: 'performance', cpus: 16, memory_mb: 32768 },
};

export function guestForSize(size) {
  const g = GUEST_PRESETS[size];
  if (!g) throw new FlyError(`invalid machine size requested, '${size}', available:\n${Object.keys(GUEST_PRESETS).join(', ')}`);
  return { ...g };
}

const UNITS = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
const DEC_UNITS = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

/** helpers.ParseSize(s, units.RAMInBytes, units.MiB): bare integer = MiB, otherwise binary units. */
export function parseRamMiB(raw) {
  const s = String(raw).trim();
  if (/^[+-]?\d+$/.test(s)) return parseInt(s, 10);
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(s);
  if (!m) throw new FlyError(`invalid size: invalid size: '${s}'`);
  return Math.floor((parseFloat(m[1]) * UNITS[m[2].toLowerCase()]) / 1024 ** 2);
}

/** helpers.ParseSize(s, units.FromHumanSize, units.GB): bare integer = GB, otherwise decimal units. */
export function parseSizeGB(raw) {
  const s = String(raw).trim();
  if (/^[+-]?\d+$/.test(s)) return parseInt(s, 10);
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(s);
  if (!m) return null;
  return Math.floor((parseFloat(m[1]) * DEC_UNITS[m[2].toLowerCase()]) / 1e9);
}

/** Resolve the config path like flyctl: -c file or dir; else ./fly.toml. Returns null if absent (no -c). */
export function resolveConfigPath(cwd, cFlag) {
  if (cFlag) {
    const p = path.resolve(cwd, cFlag);
    let st = null;
    try { st = fs.statSync(p); } catch { /* missing */ }
    if (st && st.isDirectory()) {
      const f = path.join(p, 'fly.toml');
      if (fs.existsSync(f)) return f;
    } else if (st) return p;
    throw new FlyError(`config file not found at specified path: ${cFlag} (also tried: ${path.join(cFlag, 'fly.toml')})`);
  }
  const f = path.join(cwd, 'fly.toml');
  return fs.existsSync(f) ? f : null;
}

export function loadAppConfig(file) {
  const text = fs.readFileSync(file, 'utf8');
  let raw;
  try {
    raw = parseToml(text);
  } catch (e) {
    if (e instanceof TomlError) throw new FlyError(`failed loading app config from ${file}: row ${e.row} column ${e.col}\n${e.message}`);
    throw e;
  }
  return normalise(raw, file);
}

function asArray(v) {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

export function normalise(raw, file) {
  const cfg = { raw, file, unmarshalError: null };
  cfg.app = raw.app ?? '';
  cfg.primary_region = raw.primary_region ?? '';
  cfg.kill_signal = raw.kill_signal;
  cfg.kill_timeout = raw.kill_timeout;
  cfg.console_command = raw.console_command ?? '';
  cfg.swap_size_mb = raw.swap_size_mb;
  cfg.build = raw.build ?? null;
  cfg.deploy = raw.deploy ?? null;
  cfg.experimental = raw.experimental ?? null;
  cfg.env = {};
  for (const e of asArray(raw.env)) for (const [k, v] of Object.entries(e)) cfg.env[k] = typeof v === 'string' ? v : String(v);
  // processes: map, or legacy [[processes]] name/command
  cfg.processes = {};
  if (Array.isArray(raw.processes)) for (const p of raw.processes) cfg.processes[p.name] = p.command ?? '';
  else if (raw.processes && typeof raw.processes === 'object') Object.assign(cfg.processes, raw.processes);
  cfg.http_service = raw.http_service ?? null;
  cfg.services = asArray(raw.services);
  cfg.vm = [...asArray(raw.vm), ...asArray(raw.compute), ...asArray(raw.computes)];
  cfg.mounts = [...asArray(raw.mounts), ...asArray(raw.mount)];
  cfg.restart = asArray(raw.restart);
  cfg.checks = {};
  if (Array.isArray(raw.checks)) for (const c of raw.checks) cfg.checks[c.name] = c;
  else if (raw.checks && typeof raw.checks === 'object') Object.assign(cfg.checks, raw.checks);

  // type errors that flyctl keeps as v2UnmarshalError (raw Go json errors)
  const hs = cfg.http_service;
  if (hs) {
    if (hs.internal_port !== undefined && typeof hs.internal_port !== 'number') {
      cfg.unmarshalError = `json: cannot unmarshal ${goType(hs.internal_port)} into Go struct field HTTPService.http_service.internal_port of type int`;
    }
    if (typeof hs.auto_stop_machines === 'string' && !['off', 'stop', 'suspend'].includes(hs.auto_stop_machines)) {
      cfg.unmarshalError = `invalid autostop string value "${hs.auto_stop_machines}"`;
    }
  }
  return cfg;
}

function goType(v) { return typeof v === 'string' ? 'string' : typeof v === 'boolean' ? 'bool' : Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : 'number'; }

export function processNames(cfg) {
  const names = Object.keys(cfg.processes);
  return names.length ? names.sort() : ['app'];
}

export function defaultProcessName(cfg) {
  const names = processNames(cfg);
  return names.includes('app') ? 'app' : names[0];
}

function forGroup(list, group, cfg) {
  return list.filter((x) => {
    const ps = asArray(x.processes);
    return ps.length === 0 || ps.includes(group) || Object.keys(cfg.processes).length === 0;
  });
}

export function allServices(cfg) {
  const out = [];
  if (cfg.http_service) {
    const hs = cfg.http_service;
    const ports = [{ port: 80, handlers: ['http'], force_https: !!hs.force_https }, { port: 443, handlers: ['http', 'tls'] }];
    out.push({ ...hs, protocol: 'tcp', ports, _http: true });
  }
  for (const s of cfg.services) out.push(s);
  return out;
}

export function flatten(cfg, group) {
  const services = allServices(cfg).filter((s) => {
    const ps = asArray(s.processes);
    return ps.length === 0 || ps.includes(group);
  });
  return {
    group,
    cmdStr: cfg.processes[group],
    services,
    mounts: forGroup(cfg.mounts, group, cfg),
    vm: forGroup(cfg.vm, group, cfg),
    restart: forGroup(cfg.restart, group, cfg),
  };
}

function durSeconds(d) {
  if (d === undefined || d === null) return null;
  if (typeof d === 'number') return d / 1000; // top-level checks: bare numbers are ms
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(d));
  if (!m) return null;
  const n = parseFloat(m[1]);
  return { ms: n / 1000, s: n, m: n * 60, h: n * 3600 }[m[2]];
}

const RESTART_POLICIES = { always: 'always', 'on-failure': 'on-failure', never: 'no' };
const STRATEGIES = ['canary', 'rolling', 'immediate', 'bluegreen'];

/** Returns { ok, info } — info is the exact "Validating …" block flyctl prints. */
export function validateConfig(cfg) {
  let info = `Validating ${cfg.file}\n`;
  let bad = false;
  const d = cfg.deploy;
  if (d) {
    if (d.release_command) try { shlexSplit(d.release_command); } catch { info += `Can't shell split release command: '${d.release_command}'\n`; bad = true; }
    if (d.strategy) {
      if (!STRATEGIES.includes(d.strategy)) {
        info += `unsupported deployment strategy '${d.strategy}'; Apps v2 supports the following strategies: ${STRATEGIES.join(', ')}`;
        bad = true;
      }
      if (d.strategy === 'canary' && cfg.mounts.length > 0) {
        info += 'error canary deployment strategy is not supported when using mounted volumes';
        bad = true;
      }
    }
  }
  for (const [name, c] of Object.entries(cfg.checks)) {
    if (c.type !== 'http' && c.type !== 'tcp') {
      info += `Can't process top level check '${name}': Missing or invalid check type, must be 'http' or 'tcp'\n`;
      bad = true;
    }
    const iv = durSeconds(c.interval);
    if (iv !== null && iv < 2) { info += `Check '${name}' interval is too short: ${c.interval}, minimum is 2 seconds\n`; bad = true; }
    const to = durSeconds(c.timeout);
    if (to !== null && to > 60) { info += `Check '${name}' timeout is too long: ${c.timeout}, maximum is 60 seconds\n`; bad = true; }
  }
  const valid = processNames(cfg);
  const processCount = Object.keys(cfg.processes).length;
  for (const s of allServices(cfg)) {
    const ps = asArray(s.processes);
    if (ps.length === 0 && processCount > 0) {
      info += `Service has no processes set but app has ${processCount} processes defined; update fly.toml to set processes for each service\n`;
      bad = true;
    } else {
      for (const p of ps) {
        if (!valid.includes(p)) {
          info += `Service specifies '${p}' as one of its processes, but no processes are defined with that name; update fly.toml [processes] to add '${p}' process or remove it from service's processes list\n`;
          bad = true;
        }
      }
    }
  }
  for (const [name, cmd] of Object.entries(cfg.processes)) {
    if (!cmd) continue;
    try { shlexSplit(cmd); } catch (e) {
      info += `Could not parse command for '${name}' process group; check [processes] section: ${e.message}\n`;
      bad = true;
    }
  }
  if (cfg.console_command) try { shlexSplit(cfg.console_command); } catch { info += `Can't shell split console command: '${cfg.console_command}'\n`; bad = true; }
  for (const g of valid) {
    if (flatten(cfg, g).mounts.length > 1) { info += `group '${g}' has more than one [[mounts]] section defined\n`; bad = true; }
  }
  for (const m of cfg.mounts) {
    if (m.initial_size !== undefined && m.initial_size !== '') {
      const v = parseSizeGB(m.initial_size);
      if (v === null) { info += `mount '${m.source}' with initial_size '${m.initial_size}' will fail because of: invalid size: invalid size: '${m.initial_size}'\n`; bad = true; }
      else if (v < 1) { info += `mount '${m.source}' has an initial_size '${m.initial_size}' value which is smaller than 1GB\n`; bad = true; }
    }
    if (m.snapshot_retention !== undefined && (m.snapshot_retention < 1 || m.snapshot_retention > 60)) {
      info += `mount '${m.source}' has a snapshot_retention value which is not between 1 and 60 days inclusive\n`;
      bad = true;
    }
  }
  for (const r of cfg.restart) {
    for (const p of asArray(r.processes)) {
      if (!valid.includes(p)) {
        info += `Restart policy specifies '${p}' as one of its processes, but no processes are defined with that name; update fly.toml [processes] to add '${p}' process or remove it from restart policy's processes list\n`;
        bad = true;
      }
    }
    if (!(r.policy in RESTART_POLICIES)) { info += `invalid restart policy: ${r.policy ?? ''}\n`; bad = true; }
  }
  for (const v of cfg.vm) {
    if (v.size && !GUEST_PRESETS[v.size]) { info += `invalid machine size requested, '${v.size}'\n`; bad = true; }
  }
  let reason = bad ? 'invalid app configuration' : null;
  if (cfg.unmarshalError) reason = cfg.unmarshalError;
  if (reason) {
    info += `\n   ${aurora.red('✘')}${reason}\n`;
    return { ok: false, info };
  }
  info += `${aurora.green('✓')} Configuration is valid\n`;
  return { ok: true, info };
}

export function guestFromVm(vm) {
  if (!vm) return null;
  const g = guestForSize(vm.size || 'shared-cpu-1x');
  if (vm.memory !== undefined && vm.memory !== '') {
    const mb = parseRamMiB(vm.memory);
    if (mb === 0) throw new FlyError('memory cannot be zero');
    g.memory_mb = mb;
  }
  if (vm.memory_mb) g.memory_mb = vm.memory_mb;
  if (vm.cpus) g.cpus = vm.cpus;
  if (vm.cpu_kind) g.cpu_kind = vm.cpu_kind;
  return g;
}

function toMachineService(s) {
  const out = { protocol: s.protocol || 'tcp', internal_port: s.internal_port };
  if (s.auto_stop_machines !== undefined) {
    const a = s.auto_stop_machines;
    out.autostop = a === true || a === 'stop' ? true : a === 'suspend' ? 'suspend' : false;
  }
  if (s.auto_start_machines !== undefined) out.autostart = !!s.auto_start_machines;
  if (s.min_machines_running !== undefined) out.min_machines_running = s.min_machines_running;
  out.ports = s._http ? s.ports : asArray(s.ports).map((p) => ({ port: p.port, handlers: p.handlers, force_https: p.force_https }));
  const checks = [];
  for (const c of asArray(s.checks)) checks.push({ type: 'http', ...pick(c, ['interval', 'timeout', 'grace_period', 'method', 'path', 'protocol', 'tls_skip_verify', 'tls_server_name', 'headers']) });
  for (const c of asArray(s.http_checks)) checks.push({ type: 'http', ...c });
  for (const c of asArray(s.tcp_checks)) checks.push({ type: 'tcp', ...c });
  if (checks.length) out.checks = checks;
  if (s.concurrency) out.concurrency = s.concurrency;
  out.force_instance_key = null;
  return out;
}

function pick(o, keys) {
  const r = {};
  for (const k of keys) if (o[k] !== undefined) r[k] = o[k];
  return r;
}

/**
 * appconfig.updateMachineConfig: build a machine config for `group` on top of `src` (existing config or null).
 * meta: { image, releaseId, releaseVersion, flyctlVersion }
 */
export function toMachineConfig(cfg, group, src, meta) {
  const fc = flatten(cfg, group);
  const mc = src ? structuredClone(src) : {};
  mc.init = { ...(mc.init || {}) };
  let cmd = fc.cmdStr ? shlexSplit(fc.cmdStr) : null;
  if (cfg.experimental) {
    if (!cmd && cfg.experimental.cmd) cmd = asArray(cfg.experimental.cmd);
    mc.init.entrypoint = cfg.experimental.entrypoint ? asArray(cfg.experimental.entrypoint) : undefined;
    mc.init.exec = cfg.experimental.exec ? asArray(cfg.experimental.exec) : undefined;
  } else {
    delete mc.init.entrypoint;
    delete mc.init.exec;
  }
  if (cmd && cmd.length) mc.init.cmd = cmd; else delete mc.init.cmd;
  if (cfg.swap_size_mb !== undefined) mc.init.swap_size_mb = cfg.swap_size_mb; else delete mc.init.swap_size_mb;
  for (const k of Object.keys(mc.init)) if (mc.init[k] === undefined) delete mc.init[k];

  mc.metadata = { ...(mc.metadata || {}), fly_flyctl_version: meta.flyctlVersion, fly_platform_version: 'v2', fly_process_group: group };
  if (meta.releaseId) mc.metadata.fly_release_id = meta.releaseId;
  if (meta.releaseVersion !== undefined) mc.metadata.fly_release_version = String(meta.releaseVersion);

  const services = fc.services.map(toMachineService);
  if (services.length) mc.services = services; else delete mc.services;

  const checkNames = Object.keys(cfg.checks);
  if (checkNames.length) {
    mc.checks = {};
    for (const name of checkNames) {
      const c = cfg.checks[name];
      let port = c.port;
      if (port === undefined) {
        if (!cfg.http_service) throw new FlyError(`Check '${name}' for process group '${group}' has no port set and the group has no http_service to take it from`);
        port = cfg.http_service.internal_port;
      }
      mc.checks[name] = { ...c, port };
    }
  } else delete mc.checks;

  mc.env = { ...cfg.env, FLY_PROCESS_GROUP: group };
  if (cfg.primary_region) mc.env.PRIMARY_REGION = cfg.primary_region;

  delete mc.mounts;
  if (fc.mounts.length) {
    mc.mounts = fc.mounts.map((m) => ({ path: m.destination, name: m.source }));
  }

  if (cfg.kill_signal !== undefined || cfg.kill_timeout !== undefined) {
    mc.stop_config = {};
    if (cfg.kill_timeout !== undefined) mc.stop_config.timeout = typeof cfg.kill_timeout === 'number' ? `${cfg.kill_timeout}s` : cfg.kill_timeout;
    if (cfg.kill_signal !== undefined) mc.stop_config.signal = cfg.kill_signal;
  } else delete mc.stop_config;

  const g = guestFromVm(fc.vm[0]);
  if (g) mc.guest = g;
  else if (!mc.guest) mc.guest = guestForSize('shared-cpu-1x');

  delete mc.restart;
  for (const r of fc.restart) {
    mc.restart = { policy: RESTART_POLICIES[r.policy] };
    if (r.retries !== undefined) mc.restart.max_retries = r.retries;
  }

  if (meta.image) mc.image = meta.image;
  return orderConfig(mc);
}

// fly-go MachineConfig field order, so JSON looks like flyctl's
const CONFIG_ORDER = ['env', 'init', 'guest', 'metadata', 'mounts', 'services', 'metrics', 'checks', 'restart', 'auto_destroy', 'dns', 'processes', 'image', 'files', 'schedule', 'standbys', 'stop_config', 'containers'];
export function orderConfig(mc) {
  const out = {};
  for (const k of CONFIG_ORDER) if (mc[k] !== undefined) out[k] = mc[k];
  for (const k of Object.keys(mc)) if (!(k in out) && mc[k] !== undefined) out[k] = mc[k];
  return out;
}

export { ShlexError };
