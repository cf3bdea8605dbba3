// Test-side control API for fakefly (plain ESM, no dependencies).
// import { createFakeFly } from '../fakefly/control.mjs'
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withState, readState, invocationsPath, machineRoot, nextSeq } from './lib/state.mjs';
import { appendLog, pushEvent, currentSecretValues } from './lib/core.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const FAKEFLY_BIN_DIR = path.join(HERE, 'bin');
export const FAKEFLY_MJS = path.join(HERE, 'fakefly.mjs');

/**
 * @param {{ dir?: string, env?: Record<string,string>, auth?: 'ok'|'none'|'expired' }} [opts]
 *   dir: state directory (created if missing; a fresh temp dir when omitted)
 *   env: extra FAKEFLY_* (or other) variables merged into the returned env
 */
export function createFakeFly(opts = {}) {
  const dir = path.resolve(opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'fakefly-')));
  fs.mkdirSync(dir, { recursive: true });
  // The suite's global teardown scans every double's recorded argv for secret values.
  if (process.env.CLAWDFLY_TEST_RUN_DIR) fs.appendFileSync(path.join(process.env.CLAWDFLY_TEST_RUN_DIR, 'fakefly-states.txt'), dir + '\n');
  const env = {
    ...stripFlyEnv(process.env),
    PATH: `${FAKEFLY_BIN_DIR}${path.delimiter}${process.env.PATH ?? ''}`,
    FAKEFLY_STATE: dir,
    FLY_API_TOKEN: 'fakefly-test-token',
    FLY_NO_UPDATE_CHECK: '1',
    NO_COLOR: '1',
    ...(opts.env ?? {}),
  };
  const api = {
    dir,
    env,
    binDir: FAKEFLY_BIN_DIR,
    /** path of the fakefly entry script (to run with process.execPath) */
    script: FAKEFLY_MJS,

    /** Full state snapshot (apps, volumes, machines{app, api, fake}, restartLog, ssh, clawdbotCalls, ...). */
    state() { return readState(dir); },

    /** Fly's registry drops an image (retention is not guaranteed): `deploy --image <ref>` then answers `could not find image`. */
    pruneImage(ref) { withState(dir, (s) => { (s.prunedImages ||= []).push(ref); }); },

    /** Every invocation so far: [{argv, command, cwd, stdin:{read,hadData,bytes}, elapsedMs, waitedMs (the latency it applied), exitCode, flyEnv, pid, ts}] */
    invocations() {
      const f = invocationsPath(dir);
      if (!fs.existsSync(f)) return [];
      return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },

    /** Number of restarts (machine restart, deploy replace, secrets restart-only deploy, machine update of a started machine). */
    restarts(machineId) {
      const log = readState(dir).restartLog || [];
      return machineId ? log.filter((r) => r.machine === machineId).length : log.length;
    },

    /** [{app, machine, reason: 'restart'|'deploy'|'secrets'|'update', ts}] */
    restartLog() { return readState(dir).restartLog || []; },

    /** Commands run over ssh console: [{app, machine, command, exitCode, ts}] */
    sshCommands() { return readState(dir).ssh || []; },

    /** argv of every clawdbot / node dist/index.js stand-in call: [{app, machine, argv, ts}] */
    clawdbotCalls() { return readState(dir).clawdbotCalls || []; },

    /** Tigris buckets made by `storage create`: { name: { app, public, accessKeyId, secretAccessKey } }. */
    buckets() { return readState(dir).buckets || {}; },

    /** Machines of an app as `machines list --json` shows them. */
    machines(app) {
      return Object.values(readState(dir).machines).filter((m) => m.app === app && m.api.state !== 'destroyed').map((m) => m.api);
    },

    /** Environment a process on the machine sees (config.env + secrets applied to that machine). */
    machineEnv(app, machineId) {
      const m = readState(dir).machines[machineId];
      if (!m || m.app !== app) throw new Error(`no machine ${machineId} in app ${app}`);
      return { ...(m.api.config.env || {}), ...(m.fake.appliedSecrets || {}) };
    },

    /** Secret values as stored for the app (what the next deploy / machine update will apply). */
    secrets(app) {
      const a = readState(dir).apps[app];
      if (!a) throw new Error(`no app ${app}`);
      return currentSecretValues(a);
    },

    /**
     * Append log lines to an app's buffer. lines: strings or {message, level, region, instance, provider, timestamp}.
     * opts: { machineId, region, level, provider }
     */
    seedLogs(app, lines, opts = {}) {
      withState(dir, (s) => {
        const a = s.apps[app];
        if (!a) throw new Error(`no app ${app}`);
        const m = opts.machineId ? s.machines[opts.machineId] : null;
        for (const l of lines) {
          const e = typeof l === 'string' ? { message: l } : l;
          appendLog(s, a, {
            message: e.message, level: e.level ?? opts.level ?? 'info', provider: e.provider ?? opts.provider ?? 'app',
            instance: e.instance ?? opts.machineId ?? '', region: e.region ?? opts.region ?? m?.api.region ?? 'iad', timestamp: e.timestamp,
          });
        }
      });
    },

    /** Add an exit event (newest first) to a machine. ev: {exit_code, oom_killed, signal?, requested_stop?, restarting?, restart_count?, monitorEvent?} */
    addExitEvent(app, machineId, ev = {}) {
      withState(dir, (s) => {
        const m = s.machines[machineId];
        if (!m || m.app !== app) throw new Error(`no machine ${machineId} in app ${app}`);
        const exit = {
          exit_code: ev.exit_code ?? 0, guest_exit_code: ev.guest_exit_code ?? ev.exit_code ?? 0, guest_signal: ev.guest_signal ?? -1,
          oom_killed: !!ev.oom_killed, requested_stop: !!ev.requested_stop, restarting: ev.restarting ?? true, signal: ev.signal ?? -1,
          exited_at: ev.exited_at ?? new Date().toISOString(),
        };
        const request = ev.monitorEvent ? { MonitorEvent: { exit_event: exit }, restart_count: ev.restart_count ?? 0 } : { exit_event: exit, restart_count: ev.restart_count ?? 0 };
        pushEvent(m, { type: 'exit', status: ev.status ?? 'stopped', source: 'flyd', request, timestamp: ev.timestamp });
        if (ev.restarting !== false && ev.thenStart !== false) pushEvent(m, { type: 'start', status: 'started', source: 'flyd', timestamp: ev.timestamp ? ev.timestamp + 1 : undefined });
      });
    },

    /**
     * Make the machine crash at the next flyctl call (any command, from whoever calls next, normally
     * the CLI under test): that call appends `lines` to the logs, then an exit event {exit_code,
     * oom_killed, restarting}, then (restarting, the default) Fly's restart, all stamped with its own
     * clock. No wall-clock schedule: the crash is always "after the CLI started".
     */
    scheduleExit(app, machineId, ev = {}, lines = []) {
      withState(dir, (s) => {
        const m = s.machines[machineId];
        if (!m || m.app !== app) throw new Error(`no machine ${machineId} in app ${app}`);
        (s.scheduledExits ||= []).push({ app, machineId, ev, lines });
      });
    },

    /**
     * Shallow-merge patch into the machine's API object (e.g. {state:'stopped'}, {checks:[…]}, {host_status:'unreachable'}).
     * patch.config is merged one level deep. patch.fake is merged into internals (e.g. {listenOverride:[{command,addresses}]}).
     */
    setMachine(app, machineId, patch) {
      withState(dir, (s) => {
        const m = s.machines[machineId];
        if (!m || m.app !== app) throw new Error(`no machine ${machineId} in app ${app}`);
        const { config, fake, ...rest } = patch;
        Object.assign(m.api, rest);
        if (config) m.api.config = { ...m.api.config, ...config };
        if (fake) Object.assign(m.fake, fake);
        if (rest.checks) m.fake.checksOverride = rest.checks;
      });
    },

    /**
     * From now on, a machine whose image runs `gateway` ('clawdbot' | 'openclaw', from the image's
     * runtime/package.json) logs `lines` at boot instead of its listening line; null clears it.
     */
    failGatewayBoot(gateway, lines) {
      withState(dir, (s) => {
        s.gatewayBootFailures ||= {};
        if (lines) s.gatewayBootFailures[gateway] = lines;
        else delete s.gatewayBootFailures[gateway];
      });
    },

    /** Pending/paired devices served by the clawdbot stand-in on that machine. */
    setDevices(app, machineId, devices) {
      withState(dir, (s) => {
        const m = s.machines[machineId];
        if (!m || m.app !== app) throw new Error(`no machine ${machineId} in app ${app}`);
        m.fake.devices = { pending: devices.pending ?? [], paired: devices.paired ?? [] };
      });
    },

    /** Top-level config keys the machine's `config validate` stand-in calls unrecognized (openclaw's validator). */
    setRejectedConfigKeys(app, machineId, keys) {
      withState(dir, (s) => {
        const m = s.machines[machineId];
        if (!m || m.app !== app) throw new Error(`no machine ${machineId} in app ${app}`);
        m.fake.rejectedConfigKeys = [...keys];
      });
    },

    /** Host path of a file inside the machine, e.g. machineFsPath(app, id, '/data/clawdbot.json'). */
    machineFsPath(app, machineId, p) {
      const m = readState(dir).machines[machineId];
      if (!m || m.app !== app) throw new Error(`no machine ${machineId} in app ${app}`);
      return path.join(machineRoot(dir, machineId), p);
    },

    /** Pid of the machine's main (gateway) process in the fake process table, or null when stopped. */
    gatewayPid(app, machineId) {
      const m = readState(dir).machines[machineId];
      if (!m || m.app !== app) throw new Error(`no machine ${machineId} in app ${app}`);
      return m.fake.processes?.[0]?.pid ?? null;
    },

    setAuth(mode) { withState(dir, (s) => { s.auth = mode; }); },

    setUser(email) { withState(dir, (s) => { s.user.email = email; }); },

    /** Add an organization ({slug, name, type:'SHARED'|'PERSONAL', paidPlan}). */
    addOrg(org) {
      withState(dir, (s) => {
        s.orgs.push({ id: `org_${org.slug}`, internalNumericId: String(100000 + nextSeq(s)), rawSlug: org.slug, type: 'SHARED', paidPlan: false, ...org });
      });
    },

    /** Create an app directly (skips the CLI). */
    addApp(name, { org = 'personal' } = {}) {
      withState(dir, (s) => {
        s.apps[name] = { name, org, network: '', internalNumericId: 1000000 + nextSeq(s), createdAt: new Date().toISOString(), deployed: false, releases: [], secrets: {}, logs: [], lastConfig: null };
      });
    },

    /** Remove the state dir. */
    cleanup() {
      // Keep the recorded argv for the suite's secret scan (test/global-setup.ts) before removing the state.
      const runDir = process.env.CLAWDFLY_TEST_RUN_DIR;
      const recorded = invocationsPath(dir);
      if (runDir && fs.existsSync(recorded)) fs.appendFileSync(path.join(runDir, 'invocations-archive.jsonl'), fs.readFileSync(recorded));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return api;
}

function stripFlyEnv(env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (/^(FLY_|FAKEFLY_)/.test(k)) continue;
    out[k] = v;
  }
  return out;
}
