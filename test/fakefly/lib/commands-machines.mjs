// fakefly: `machine list|restart|start|stop|update|status`.
import { FlyError, out, jsonOut } from './output.mjs';
import { appMachines, findMachine, nowIso, pushEvent, bootMachine, restartMachine, currentSecretValues } from './core.mjs';
import { parseRamMiB, guestForSize } from './appconfig.mjs';
import { shlexSplit } from './shlex.mjs';
import { checksSummary, renderTable } from './commands-apps.mjs';
import { readApp, updateApp } from './app-context.mjs';

// ---------------------------------------------------------------- machines

export function cmdMachineList(ctx) {
  const { appName, s } = readApp(ctx, { api: 'machines', prefix: 'failed to list VMs: ' });
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
  updateApp(ctx, (s, app, appName) => {
    const ms = ctx.args.map((id) => findMachine(s, appName, id));
    for (const m of ms) {
      out(`Restarting machine ${m.api.id}\n`);
      pushEvent(m, { type: 'restart', status: 'stopping', source: 'user' });
      restartMachine(ctx, s, m, 'restart');
      out(`Machine ${m.api.id} restarted successfully!\n`);
    }
  }, { api: 'machines' });
}

export function cmdMachineStart(ctx) {
  requireMachineIds(ctx);
  updateApp(ctx, (s, app, appName) => {
    for (const id of ctx.args) {
      const m = findMachine(s, appName, id);
      if (m.api.state !== 'started') {
        pushEvent(m, { type: 'start', status: 'starting', source: 'user' });
        m.fake.starts = (m.fake.starts || 0) + 1;
        bootMachine(ctx, s, m);
      }
      out(`${m.api.id} has been started\n`);
    }
  }, { api: 'machines' });
}

export function cmdMachineStop(ctx) {
  requireMachineIds(ctx);
  updateApp(ctx, (s, app, appName) => {
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
  }, { api: 'machines' });
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
  const id = ctx.args[0];
  updateApp(ctx, (s, app, appName) => {
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
  }, { api: 'machines' });
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
  const { appName, s } = readApp(ctx, { api: 'machines' });
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
