// Stand-ins for programs "inside" a fake machine that must not touch the host:
//   kill      (checks/removes pids in the machine's fake process table)
//   clawdbot  (and `node dist/index.js …`): records argv, serves `devices list|approve|reject`, `--version`,
//             and `config validate --json` (openclaw's validator command; invented rules, see validateConfig)
// Used directly by `ssh console -C "<cmd>"` and, inside `sh -c`, through shim executables / a shell function.
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { readState, withState } from './state.mjs';
import { DROPPED_SHELL_PRELUDE } from './backend-local.mjs';

export const CLAWDBOT_VERSION = '2026.1.24-3';

/** `env NAME=VALUE … cmd …` (as `ssh console -C` runs it, no shell): the words after the assignments, and the assignments. */
export function splitEnvPrefix(argv) {
  if ((argv[0] || '').split('/').pop() !== 'env') return { env: {}, argv };
  const env = {};
  let i = 1;
  for (; i < argv.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[i]); i++) {
    const eq = argv[i].indexOf('=');
    env[argv[i].slice(0, eq)] = argv[i].slice(eq + 1);
  }
  return { env, argv: argv.slice(i) };
}

export function isClawdbotArgv(fullArgv) {
  const { argv } = splitEnvPrefix(fullArgv);
  const b = (argv[0] || '').split('/').pop();
  if (b === 'clawdbot') return true;
  if (b === 'node' && argv[1] && /(^|\/)dist\/(index|entry)\.(m?js)$/.test(argv[1])) return true;
  return false;
}

/** Returns { code, stdout, stderr } (strings). */
export function runShim(dir, appName, machineId, fullArgv) {
  const { env, argv } = splitEnvPrefix(fullArgv);
  const name = (argv[0] || '').split('/').pop();
  if (name === 'kill') return shimKill(dir, machineId, argv.slice(1));
  if (name === 'setpriv') return shimSetpriv(dir, machineId, argv.slice(1));
  if (isClawdbotArgv(argv)) return shimClawdbot(dir, appName, machineId, argv, env);
  return { code: 127, stdout: '', stderr: `${name}: not found\n` };
}

/**
 * `setpriv … sh -c SCRIPT …` inside the machine: the real setpriv (it really drops to that uid, so
 * a script that follows a planted symlink really fails), with the double's `kill` stand-in put in
 * front of the script. Only `sh -c` is supported: that is all clawdfly runs through it.
 */
function shimSetpriv(dir, machineId, args) {
  const sh = args.findIndex((a, i) => ['sh', '/bin/sh'].includes(a) && args[i + 1] === '-c');
  if (sh < 0) return { code: 127, stdout: '', stderr: 'fakefly: setpriv is only supported with sh -c\n' };
  const m = readState(dir).machines[machineId];
  const alive = m && m.api.state === 'started' ? (m.fake.processes || []).map((p) => p.pid) : [];
  const real = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => fs.existsSync(f));
  if (!real) return { code: 127, stdout: '', stderr: 'setpriv: not found\n' };
  const argv = [...args.slice(0, sh + 2), DROPPED_SHELL_PRELUDE + (args[sh + 2] ?? ''), ...args.slice(sh + 3)];
  const r = spawnSync(real, argv, { stdio: 'inherit', env: { ...process.env, FAKEFLY_ALIVE_PIDS: alive.join(' ') } });
  return { code: r.status ?? 1, stdout: '', stderr: r.error ? `setpriv: ${r.error.message}\n` : '' };
}

function shimKill(dir, machineId, args) {
  let signal = 'TERM';
  const pids = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-s' || a === '-n') { signal = args[++i]; continue; }
    if (/^-\w+$/.test(a)) { signal = a.slice(1); continue; }
    pids.push(a);
  }
  if (!pids.length) return { code: 2, stdout: '', stderr: 'kill: usage: kill [-s sigspec | -n signum | -sigspec] pid\n' };
  return withState(dir, (s) => {
    const m = s.machines[machineId];
    let code = 0;
    let stderr = '';
    for (const p of pids) {
      const pid = Number(p);
      const alive = m && m.api.state === 'started' && (m.fake.processes || []).some((x) => x.pid === pid);
      if (!alive) { code = 1; stderr += `kill: (${p}) - No such process\n`; continue; }
      if (signal !== '0') {
        m.fake.processes = m.fake.processes.filter((x) => x.pid !== pid);
        (m.fake.signals ||= []).push({ pid, signal, ts: Date.now() });
      }
    }
    return { code, stdout: '', stderr };
  });
}

function shimClawdbot(dir, appName, machineId, argv, env = {}) {
  const args = isNode(argv) ? argv.slice(2) : argv.slice(1);
  return withState(dir, (s) => {
    const m = s.machines[machineId];
    const rec = { app: appName, machine: machineId, argv: [...argv], env, ts: new Date().toISOString() };
    (s.clawdbotCalls ||= []).push(rec);
    const devices = (m.fake.devices ||= { pending: [], paired: [] });
    const json = args.includes('--json');
    const pos = args.filter((a) => !a.startsWith('--'));
    if (args[0] === '--version' || args[0] === '-V') return ok(`${CLAWDBOT_VERSION}\n`);
    if (pos[0] === 'config' && pos[1] === 'validate') {
      rec.configPath = process.env.OPENCLAW_CONFIG_PATH || process.env.CLAWDBOT_CONFIG_PATH;
      return validateConfig(m);
    }
    if (pos[0] === 'devices') {
      const unreachable = gatewayUnreachable(m, args, env);
      if (unreachable) return fail(unreachable);
      const sub = pos[1] || 'list';
      if (sub === 'list') {
        if (json) return ok(JSON.stringify({ pending: devices.pending, paired: devices.paired }, null, 2) + '\n');
        return ok(renderDevices(devices));
      }
      if (sub === 'approve' || sub === 'reject') {
        const id = pos[2];
        if (!id) return fail(`error: missing required argument 'requestId'\n`);
        const idx = devices.pending.findIndex((d) => d.requestId === id);
        if (idx < 0) return fail(`Unknown request id: ${id}\n`);
        const [d] = devices.pending.splice(idx, 1);
        if (sub === 'approve') {
          devices.paired.push({ ...d, approvedAt: new Date().toISOString() });
          return ok(json ? JSON.stringify({ ok: true, deviceId: d.deviceId, requestId: id }, null, 2) + '\n' : `Approved device ${d.deviceId} (request ${id})\n`);
        }
        return ok(json ? JSON.stringify({ ok: true, requestId: id }, null, 2) + '\n' : `Rejected request ${id}\n`);
      }
    }
    return fail(`fakefly clawdbot stand-in: unsupported command: ${args.join(' ')}\n`);
  });
}

/**
 * `config validate --json` on the file the config-path variable names, answered in openclaw
 * 2026.9.6's shape (`{valid, path, issues|warnings}`, exit 1 when invalid). The double's rules are
 * its own, not openclaw's schema: the file must be a JSON object, and a top-level key a test put in
 * `fake.rejectedConfigKeys` (control: setRejectedConfigKeys) is "Unrecognized".
 */
function validateConfig(m) {
  const file = process.env.OPENCLAW_CONFIG_PATH || process.env.CLAWDBOT_CONFIG_PATH;
  if (!file) return fail('fakefly validator stand-in: no config path variable set\n');
  const verdict = (issues) => JSON.stringify(issues.length ? { valid: false, path: file, issues } : { valid: true, path: file, warnings: [] }, null, 2) + '\n';
  let value;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return { code: 1, stdout: verdict([{ path: '<root>', message: `JSON parse failed: ${e.message}` }]), stderr: '' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { code: 1, stdout: verdict([{ path: '<root>', message: 'Expected object' }]), stderr: '' };
  const rejected = (m.fake.rejectedConfigKeys || []).filter((k) => Object.prototype.hasOwnProperty.call(value, k));
  const issues = rejected.map((k) => ({ path: '<root>', message: `Unrecognized key: "${k}"` }));
  return { code: issues.length ? 1 : 0, stdout: verdict(issues), stderr: '' };
}

/**
 * Why the CLI cannot reach the machine's gateway, as the real CLIs fail: it dials the port `--url`
 * names (clawdbot), or the port variable in its environment, else 18789. openclaw refuses `--url`
 * without an explicit `--token`/`--password` (measured with 2026.9.6).
 */
function gatewayUnreachable(m, args, env) {
  const gateway = m.api.image_ref?.labels?.['fakefly.gateway'] || 'clawdbot';
  const urlArg = args.find((a) => a === '--url' || a.startsWith('--url='));
  const url = urlArg === '--url' ? args[args.indexOf('--url') + 1] : urlArg?.slice('--url='.length);
  if (gateway === 'openclaw' && url && !args.some((a) => /^--(token|password)(=|$)/.test(a))) {
    return 'gateway url override requires explicit credentials\nFix: pass --token or --password *** --url (or gatewayToken in tools).\n';
  }
  const portVar = `${gateway.toUpperCase()}_GATEWAY_PORT`;
  const machineEnv = m.api.config?.env || {};
  const dialed = url ? Number(new URL(url).port) : Number(env[portVar] ?? machineEnv[portVar] ?? 18789);
  const cmd = m.api.config?.init?.cmd || [];
  const i = cmd.indexOf('--port');
  const listening = Number(i >= 0 ? cmd[i + 1] : machineEnv[portVar] ?? 18789);
  if (dialed !== listening) return `gateway closed (1006 abnormal closure (no close frame)): connect ECONNREFUSED 127.0.0.1:${dialed}\n`;
  return undefined;
}

function isNode(argv) { return (argv[0] || '').split('/').pop() === 'node'; }
const ok = (stdout) => ({ code: 0, stdout, stderr: '' });
const fail = (stderr) => ({ code: 1, stdout: '', stderr });

function renderDevices(d) {
  let s = `Pending (${d.pending.length})\n`;
  if (d.pending.length) {
    const rows = [['Request', 'Device', 'Role', 'Client', 'Requested'], ...d.pending.map((p) => [p.requestId, p.deviceId, p.role || 'operator', p.client || '', p.requestedAt || ''])];
    s += table(rows);
  }
  s += `\nPaired (${d.paired.length})\n`;
  if (d.paired.length) {
    const rows = [['Device', 'Role', 'Client', 'Approved'], ...d.paired.map((p) => [p.deviceId, p.role || 'operator', p.client || '', p.approvedAt || ''])];
    s += table(rows);
  }
  return s;
}

function table(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(w[i])).join('  ').trimEnd()).join('\n') + '\n';
}
