// Shared helpers for fakefly commands: auth, app resolution, machine records, restarts, events.
import crypto from 'node:crypto';
import { FlyError } from './output.mjs';
import { resolveConfigPath, loadAppConfig } from './appconfig.mjs';
import { newMachineId, newHex, nextSeq } from './state.mjs';

export const REGIONS = [
  ['ams', 'Amsterdam, Netherlands'], ['arn', 'Stockholm, Sweden'], ['bom', 'Mumbai, India'], ['cdg', 'Paris, France'],
  ['dfw', 'Dallas, Texas (US)'], ['ewr', 'Secaucus, NJ (US)'], ['fra', 'Frankfurt, Germany'], ['gru', 'Sao Paulo, Brazil'],
  ['iad', 'Ashburn, Virginia (US)'], ['jnb', 'Johannesburg, South Africa'], ['lax', 'Los Angeles, California (US)'],
  ['lhr', 'London, United Kingdom'], ['nrt', 'Tokyo, Japan'], ['ord', 'Chicago, Illinois (US)'], ['sin', 'Singapore, Singapore'],
  ['sjc', 'San Jose, California (US)'], ['syd', 'Sydney, Australia'], ['yyz', 'Toronto, Canada'],
];

export function flyctlVersion(env) { return env.FAKEFLY_VERSION || '0.4.87'; }

export function authMode(ctx, s) {
  const env = ctx.env;
  if (env.FAKEFLY_AUTH) return env.FAKEFLY_AUTH;
  if (env.FAKEFLY_REQUIRE_TOKEN === '1' && !env.FLY_API_TOKEN && !env.FLY_ACCESS_TOKEN && !ctx.flags['access-token']) return 'none';
  return s.auth || 'ok';
}

export const NO_TOKEN = "no access token available. Please login with 'flyctl auth login'";
export const NOT_AUTHENTICATED = 'You must be authenticated to view this.';

export function requireAuth(ctx, s, prefix = 'failed retrieving current user: ') {
  const mode = authMode(ctx, s);
  if (mode === 'none') throw new FlyError(NO_TOKEN);
  if (mode === 'expired') throw new FlyError(`${prefix}${NOT_AUTHENTICATED}`);
}

export const MISSING_APP = 'the config for your app is missing an app name, add an app field to the fly.toml file or specify with the -a flag';

/** RequireAppName: -a, then FLY_APP, then fly.toml app (from -c or cwd). */
export function resolveAppName(ctx) {
  if (ctx.flags.app) return ctx.flags.app;
  if (ctx.env.FLY_APP) return ctx.env.FLY_APP;
  const p = resolveConfigPath(ctx.cwd, ctx.flags.config);
  if (p) {
    const cfg = loadAppConfig(p);
    if (cfg.app) return cfg.app;
  }
  throw new FlyError(MISSING_APP);
}

export function gqlApp(s, name, prefix = 'failed to get app: ') {
  const a = s.apps[name];
  if (!a) throw new FlyError(`${prefix}Could not find App "${name}"`);
  return a;
}

export function flapsApp(s, name, prefix = '') {
  const a = s.apps[name];
  if (!a) throw new FlyError(`${prefix}app not found`);
  return a;
}

export function appMachines(s, app, { includeDestroyed = false } = {}) {
  return Object.values(s.machines).filter((m) => m.app === app && (includeDestroyed || !['destroyed', 'destroying'].includes(m.api.state)));
}

export function findMachine(s, app, id) {
  const m = s.machines[id];
  if (!m || m.app !== app || m.api.state === 'destroyed') throw new FlyError(`machine ${id} was not found in app '${app}'`);
  return m;
}

export function nowIso() { return new Date().toISOString().replace(/\.\d+Z$/, 'Z'); }

const ADJ = ['royal', 'bitter', 'quiet', 'ancient', 'misty', 'wild', 'young', 'proud', 'late', 'snowy', 'autumn', 'summer', 'lively', 'silent', 'broken', 'cool'];
const NOUN = ['sun', 'river', 'field', 'wave', 'pond', 'snow', 'fog', 'leaf', 'moon', 'hill', 'flower', 'butterfly', 'dawn', 'feather', 'grass', 'haze'];

export function machineName(s) {
  const h = parseInt(newHex(s, 'name', 8), 16);
  return `${ADJ[h % ADJ.length]}-${NOUN[(h >> 4) % NOUN.length]}-${1000 + (h % 9000)}`;
}

export function pushEvent(m, ev) {
  const e = { type: ev.type, status: ev.status, source: ev.source || 'flyd', timestamp: ev.timestamp ?? Date.now() };
  if (ev.request) e.request = ev.request;
  m.api.events = [e, ...(m.api.events || [])].slice(0, 20);
}

export function newMachineRecord(s, ctx, { app, region, config, imageRef, name }) {
  const id = newMachineId(s);
  const ts = nowIso();
  const n = nextSeq(s);
  const api = {
    id,
    name: name || machineName(s),
    state: 'created',
    region,
    image_ref: imageRef,
    instance_id: newUlidLike(s),
    private_ip: `fdaa:0:${(n % 0xffff).toString(16)}:a7b:${(n * 7 % 0xffff).toString(16)}:${newHex(s, 'ip', 4)}:${newHex(s, 'ip', 4)}:2`,
    created_at: ts,
    updated_at: ts,
    config,
    events: [],
    checks: [],
    host_status: 'ok',
    cordoned: false,
  };
  return { app, api, fake: { restarts: 0, starts: 0, updates: 0, appliedSecrets: {}, processes: [], devices: { pending: [], paired: [] } } };
}

export function newUlidLike(s) {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const h = newHex(s, 'inst', 26);
  let out = '01K';
  for (let i = 0; i < 23; i++) out += alphabet[parseInt(h[i], 16) % 32];
  return out;
}

export function machineChecksFor(m) {
  const checks = [];
  (m.api.config.services || []).forEach((svc, i) => {
    (svc.checks || []).forEach((c, j) => {
      checks.push({ name: `servicecheck-${String(i * 10 + j).padStart(2, '0')}-${c.type || 'http'}-${svc.internal_port}`, status: 'passing', output: 'Success', updated_at: nowIso() });
    });
  });
  for (const name of Object.keys(m.api.config.checks || {})) checks.push({ name, status: 'passing', output: 'Success', updated_at: nowIso() });
  return checks;
}

/** Machine boots (create/start/restart/update). Backend gets to set up processes. */
export function bootMachine(ctx, s, m) {
  m.api.state = 'started';
  m.api.updated_at = nowIso();
  pushEvent(m, { type: 'start', status: 'started', source: 'flyd' });
  m.api.checks = m.fake.checksOverride ?? machineChecksFor(m);
  ctx.backend.bootMachine(ctx, m, s);
  if (ctx.env.FAKEFLY_BOOT_LOGS === '1') appendBootLogs(s, m);
}

export function stopMachineForRestart(ctx, s, m, { requested = true } = {}) {
  pushEvent(m, {
    type: 'exit',
    status: 'stopped',
    source: 'flyd',
    request: { exit_event: { exit_code: 0, guest_exit_code: 0, guest_signal: 15, oom_killed: false, requested_stop: requested, restarting: true, signal: -1, exited_at: new Date().toISOString() }, restart_count: 0 },
  });
  ctx.backend.stopMachine(ctx, m, s);
}

/** A restart as counted by control.restarts(): reason is 'restart' | 'deploy' | 'secrets' | 'update'. */
export function restartMachine(ctx, s, m, reason) {
  if (m.api.state === 'started') stopMachineForRestart(ctx, s, m);
  m.fake.restarts = (m.fake.restarts || 0) + 1;
  (s.restartLog ||= []).push({ app: m.app, machine: m.api.id, reason, ts: new Date().toISOString() });
  bootMachine(ctx, s, m);
}

export function secretDigest(v) { return crypto.createHash('sha256').update(v).digest('hex').slice(0, 16); }

export function currentSecretValues(app) {
  const out = {};
  for (const [k, v] of Object.entries(app.secrets || {})) out[k] = v.value;
  return out;
}

export function newRelease(s, app, reason) {
  const version = (app.releases?.length || 0) + 1;
  const rel = { id: newHex(s, 'release', 12), version, reason, seq: nextSeq(s), created_at: nowIso() };
  (app.releases ||= []).push(rel);
  return rel;
}

function appendBootLogs(s, m) {
  const app = s.apps[m.app];
  if (!app) return;
  const cmd = m.api.config?.init?.cmd || [];
  const lines = [
    ['runner', 'Pulling container image ' + (m.api.config?.image || '')],
    ['runner', 'Successfully prepared image ' + (m.api.config?.image || '')],
    ['app', ` INFO Starting init (commit: 6c3309ba)...`],
    ['app', ` INFO Preparing to run: \`${cmd.join(' ') || 'docker-entrypoint.sh'}\` as root`],
  ];
  const gateway = m.api.image_ref?.labels?.['fakefly.gateway'] || 'clawdbot';
  // the OpenClaw image's entrypoint, before the gateway: what it imported (backend-local importCredentialStores)
  for (const store of m.fake.migrated || []) {
    const command = 'openclaw doctor --fix --non-interactive --yes';
    lines.push(['app', `[clawdfly] Clawdbot's credential store (made by \`clawdbot onboard\` / \`models auth\`) found (${store}): running \`${command}\` once before the gateway starts, on a scratch copy of /data/openclaw.json (not changed)`]);
    lines.push(['app', `[clawdfly] \`${command}\` exited 0 after 1 s: imported ${store} (renamed *.migrated-*)`]);
  }
  const failure = s.gatewayBootFailures?.[gateway];
  if (failure) {
    // control.failGatewayBoot: this gateway logs its failure instead of listening (e.g. a config it refuses)
    for (const line of [].concat(failure)) lines.push(['app', `${new Date().toISOString()} ${line}`]);
  } else {
    for (const l of m.fake.listen || []) {
      const pid = m.fake.processes?.[0]?.pid ?? 1;
      // openclaw's line names no address (shared/reference/openclaw.md); clawdbot's one per address
      if (gateway === 'openclaw') {
        lines.push(['app', `${new Date().toISOString()} [gateway] http server listening (3 plugins: anthropic, browser, memory; 6.0s)`]);
        lines.push(['app', `${new Date().toISOString()} [gateway] ready`]);
      }
      else for (const [i, a] of l.addresses.entries()) lines.push(['app', `${new Date().toISOString()} [gateway] listening on ws://${a}${i === 0 ? ` (PID ${pid})` : ''}`]);
    }
  }
  for (const [provider, message] of lines) appendLog(s, app, { message, instance: m.api.id, region: m.api.region, provider });
}

/**
 * control.scheduleExit: exits waiting for the next flyctl call. The call that finds them applies
 * them with its own clock (log lines, then the exit event, then Fly's restart), so a test can make a
 * gateway crash "while the CLI watches" without guessing how long the CLI takes to get there.
 */
export function applyScheduledExits(s) {
  const pending = s.scheduledExits || [];
  if (pending.length === 0) return;
  delete s.scheduledExits;
  for (const { app, machineId, ev, lines } of pending) {
    const m = s.machines[machineId];
    const a = s.apps[app];
    if (!m || !a) continue;
    const at = Date.now();
    lines.forEach((message, i) => appendLog(s, a, { message, instance: machineId, region: m.api.region, timestamp: new Date(at + i).toISOString() }));
    const exitAt = at + lines.length + 1;
    const exit = {
      exit_code: ev.exit_code ?? 0, guest_exit_code: ev.exit_code ?? 0, guest_signal: -1, oom_killed: !!ev.oom_killed,
      requested_stop: false, restarting: ev.restarting ?? true, signal: -1, exited_at: new Date(exitAt).toISOString(),
    };
    pushEvent(m, { type: 'exit', status: 'stopped', source: 'flyd', request: { exit_event: exit, restart_count: 0 }, timestamp: exitAt });
    if (exit.restarting) pushEvent(m, { type: 'start', status: 'started', source: 'flyd', timestamp: exitAt + 1 });
  }
}

export function appendLog(s, app, { message, instance = '', region = '', level = 'info', provider = 'app', timestamp }) {
  const seq = nextSeq(s);
  (app.logs ||= []).push({ seq, timestamp: timestamp || new Date(Date.now() + (app.logs?.length || 0)).toISOString(), message, level, instance, region, provider });
}
