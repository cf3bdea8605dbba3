/**
 * The image's supervisor (templates/runtime/supervisor.mjs) run on the host with Node, as the
 * entrypoint runs it, over a stand-in gateway (fake-gateway.mjs: a tiny HTTP server) that the tests
 * freeze with SIGSTOP. Every window is an [env] setting in milliseconds here; the tests wait for
 * the supervisor's own lines (evidence), never for a clock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { parseWatchdogRestart, WATCHDOG_EXIT_CODE } from '../../src/gateway/watchdog.js';

const SUPERVISOR = join(ROOT, 'templates', 'runtime', 'supervisor.mjs');
const FAKE = join(ROOT, 'test', 'watchdog', 'fake-gateway.mjs');
const T = 30_000;
const dirs: string[] = [];
const running: Run[] = [];

/** Small windows: checks 40 ms apart, 150 ms to answer, 3 failures, 400 ms from SIGTERM to SIGKILL. */
const FAST = {
  CLAWDFLY_WATCHDOG_INTERVAL: '40ms',
  CLAWDFLY_WATCHDOG_TIMEOUT: '150ms',
  CLAWDFLY_WATCHDOG_FAILURES: '3',
  CLAWDFLY_WATCHDOG_KILL_GRACE: '400ms',
  CLAWDFLY_WATCHDOG_RELOAD_GRACE: '600ms',
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

interface Run {
  child: ChildProcess;
  dir: string;
  port: number;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line (from index `from`) matching re; rejects when the supervisor exits first. */
  waitFor(re: RegExp, from?: number): Promise<string>;
  count(re: RegExp): number;
  gatewayPid(): Promise<number>;
  text(): string;
}

async function start(opts: { env?: Record<string, string>; gatewayArgs?: string[]; supervisorArgs?: string[] } = {}): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'clawdfly-watchdog-'));
  dirs.push(dir);
  const port = await freePort();
  writeFileSync(join(dir, 'openclaw.json'), '{}\n');
  const args = [
    SUPERVISOR,
    '--health-path', '/healthz',
    '--config', join(dir, 'openclaw.json'),
    '--hold-file', join(dir, 'clawdfly-watchdog.hold'),
    ...(opts.supervisorArgs ?? []),
    '--', process.execPath, FAKE, '--port', String(port), ...(opts.gatewayArgs ?? []),
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, ...FAST, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === '') delete env[k];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  const onData = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      ended = true;
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  const run: Run = {
    child,
    dir,
    port,
    lines,
    exited,
    text: () => lines.join('\n'),
    count: (re) => lines.filter((l) => re.test(l)).length,
    waitFor(re, from = 0) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const hit = lines.slice(from).find((l) => re.test(l));
          if (hit !== undefined) {
            waiters.delete(look);
            resolve(hit);
          } else if (ended) {
            waiters.delete(look);
            reject(new Error(`the supervisor exited before ${re}:\n${lines.join('\n')}`));
          }
        };
        waiters.add(look);
        look();
      });
    },
    async gatewayPid() {
      const line = await run.waitFor(/\[gateway\] fake (starting|listening).*\(PID (\d+)\)/);
      return Number(/\(PID (\d+)\)/.exec(line)![1]);
    },
  };
  running.push(run);
  return run;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the n-th line matching re has come (evidence that the supervisor kept checking). */
async function waitForCount(run: Run, re: RegExp, n: number): Promise<void> {
  for (let seen = 0, from = 0; seen < n; seen++) {
    const line = await run.waitFor(re, from);
    from = run.lines.indexOf(line, from) + 1;
  }
}

afterEach(async () => {
  for (const run of running.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      const line = run.lines.find((l) => /\[gateway\] fake starting \(PID \d+\)/.test(l));
      const pid = line ? Number(/\(PID (\d+)\)/.exec(line)![1]) : 0;
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
      run.child.kill('SIGKILL');
      await run.exited;
    }
  }
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('supervisor: the gateway as a child, its signals, its exit code', () => {
  it('forwards SIGTERM: the gateway shuts down with its own line and the supervisor exits with its code (0)', async () => {
    const run = await start();
    const pid = await run.gatewayPid();
    expect(pid).not.toBe(run.child.pid); // the gateway is a child, not the supervisor itself
    await run.waitFor(/watchdog: armed/);
    run.child.kill('SIGTERM');
    const end = await run.exited;
    expect(end.code).toBe(0);
    expect(run.lines.at(-1)).toBe('[gateway] received SIGTERM; shutting down');
    expect(alive(pid)).toBe(false);
    expect(run.text()).not.toMatch(/watchdog: restarting/);
  }, T);

  it('SIGINT is forwarded too', async () => {
    const run = await start({ gatewayArgs: ['--ignore-sigterm'] });
    await run.waitFor(/watchdog: armed/);
    run.child.kill('SIGINT');
    const end = await run.exited;
    expect(end.code).toBe(130); // the fake has no SIGINT handler: killed by it, reported as a shell would
  }, T);

  it('passes the gateway’s own exit on: exit 3 → 3; a gateway that exits by itself is named', async () => {
    const run = await start({ gatewayArgs: ['--exit-after', '50', '--exit-code', '3'] });
    const end = await run.exited;
    expect(end.code).toBe(3);
    expect(run.text()).toContain('[clawdfly] the gateway exited (exit 3)');
  }, T);

  it('a gateway killed by a signal (SIGKILL, as the OOM killer does) → 137, so Fly records a memory-like exit', async () => {
    const run = await start();
    const pid = await run.gatewayPid();
    await run.waitFor(/watchdog: armed/);
    process.kill(pid, 'SIGKILL');
    const end = await run.exited;
    expect(end.code).toBe(137);
    expect(run.text()).toContain('[clawdfly] the gateway exited (SIGKILL)');
  }, T);
});

describe('watchdog', () => {
  it('a frozen gateway (SIGSTOP): one line saying why, SIGTERM (the gateway shuts down once continued), exit 70', async () => {
    const run = await start();
    const pid = await run.gatewayPid();
    const armed = await run.waitFor(/watchdog: armed/);
    expect(armed).toMatch(/GET \/healthz on port \d+ answered \(HTTP 200 \{"ok":true,"status":"live"\}\); 3 failed checks in a row, 40 ms apart, restart the gateway/);
    process.kill(pid, 'SIGSTOP');
    const end = await run.exited;
    expect(end.code).toBe(WATCHDOG_EXIT_CODE);
    expect(alive(pid)).toBe(false);
    const restarts = run.lines.filter((l) => /watchdog: restarting/.test(l));
    expect(restarts).toHaveLength(1);
    // the CLI's parser (doctor) reads the supervisor's real line
    const parsed = parseWatchdogRestart(restarts[0]!);
    expect(parsed).toMatchObject({ failures: 3, check: `GET /healthz on port ${run.port}`, lastAnswer: 'no answer within 150 ms', pid });
    expect(run.count(/watchdog: check [12]\/3 failed: GET \/healthz on port \d+: no answer within 150 ms/)).toBe(2);
    // SIGCONT after the SIGTERM: a stopped gateway gets to shut down cleanly
    const after = run.lines.slice(run.lines.indexOf(restarts[0]!));
    expect(after).toContain('[gateway] received SIGTERM; shutting down');
    expect(run.lines.at(-1)).toBe(`[clawdfly] watchdog: the gateway (pid ${pid}) stopped after SIGTERM (exit 0); exiting 70 so the machine restarts`);
  }, T);

  it('a gateway too stuck to act on SIGTERM is killed after the grace', async () => {
    const run = await start({ gatewayArgs: ['--ignore-sigterm'] });
    const pid = await run.gatewayPid();
    await run.waitFor(/watchdog: armed/);
    process.kill(pid, 'SIGSTOP');
    const end = await run.exited;
    expect(end.code).toBe(WATCHDOG_EXIT_CODE);
    expect(run.text()).toContain('[gateway] fake ignores SIGTERM');
    expect(run.lines.at(-1)).toBe(`[clawdfly] watchdog: the gateway (pid ${pid}) did not stop within 400 ms: killed (SIGKILL); exiting 70 so the machine restarts`);
    expect(alive(pid)).toBe(false);
  }, T);

  it('a freeze shorter than the window: failed checks are counted, then the gateway answers again, no restart', async () => {
    const run = await start({ env: { CLAWDFLY_WATCHDOG_VERBOSE: '1' } });
    const pid = await run.gatewayPid();
    await run.waitFor(/watchdog: armed/);
    process.kill(pid, 'SIGSTOP');
    await run.waitFor(/watchdog: check 1\/3 failed/);
    process.kill(pid, 'SIGCONT');
    const back = await run.waitFor(/watchdog: the gateway answers again/);
    expect(back).toMatch(/answers again \(HTTP 200 \{"ok":true,"status":"live"\}\) after [12] failed check\(s\)/);
    // it goes on checking (three more answers), without a restart
    const from = run.lines.indexOf(back);
    await waitForCount({ ...run, waitFor: (re, f = from) => run.waitFor(re, Math.max(f, from)) }, /watchdog: check ok/, 3);
    expect(run.text()).not.toMatch(/watchdog: restarting/);
    expect(run.child.exitCode).toBeNull();
    expect(alive(pid)).toBe(true);
  }, T);

  it('never fires during start-up: a gateway that does not listen yet is not counted; it arms on the first answer', async () => {
    const run = await start({ env: { CLAWDFLY_WATCHDOG_VERBOSE: '1' }, gatewayArgs: ['--listen-after', '600'] });
    await waitForCount(run, /watchdog: starting up, not counted: GET \/healthz on port \d+: connection refused/, 4);
    await run.waitFor(/watchdog: armed/);
    expect(run.text()).not.toMatch(/watchdog: check \d\/3 failed|restarting/);
  }, T);

  it('a gateway that never starts is left to Fly’s health check: many failed start-up checks, no restart', async () => {
    const run = await start({ env: { CLAWDFLY_WATCHDOG_VERBOSE: '1' }, gatewayArgs: ['--listen-after', '-1'] });
    await waitForCount(run, /watchdog: starting up, not counted/, 10);
    expect(run.text()).not.toMatch(/restarting/);
    expect(run.child.exitCode).toBeNull();
  }, T);

  it('a hold file (a backup or restore holds the gateway stopped): no checks while it exists, the watchdog resumes after', async () => {
    const run = await start({ env: { CLAWDFLY_WATCHDOG_VERBOSE: '1' } });
    const pid = await run.gatewayPid();
    await run.waitFor(/watchdog: armed/);
    const hold = join(run.dir, 'clawdfly-watchdog.hold');
    writeFileSync(hold, 'restore 2026-12-06T21:00:00Z\n');
    const held = await run.waitFor(/watchdog: on hold/);
    expect(held).toBe(`[clawdfly] watchdog: on hold (restore 2026-12-06T21:00:00Z; ${hold}): not checking the gateway until it is removed`);
    process.kill(pid, 'SIGSTOP');
    const from = run.lines.indexOf(held);
    await waitForCount({ ...run, waitFor: (re, f = from) => run.waitFor(re, Math.max(f, from)) }, /watchdog: held, not checking/, 8);
    expect(run.text()).not.toMatch(/watchdog: check \d\/3 failed|restarting/);
    expect(run.child.exitCode).toBeNull();
    // the hold ends and the gateway is still frozen: now it is a freeze
    rmSync(hold);
    await run.waitFor(/watchdog: hold released/);
    const end = await run.exited;
    expect(end.code).toBe(WATCHDOG_EXIT_CODE);
  }, T);

  it('a hold file that is a link is no hold (the gateway user could point it anywhere)', async () => {
    const run = await start();
    const pid = await run.gatewayPid();
    await run.waitFor(/watchdog: armed/);
    writeFileSync(join(run.dir, 'reason'), 'backup\n');
    symlinkSync(join(run.dir, 'reason'), join(run.dir, 'clawdfly-watchdog.hold'));
    process.kill(pid, 'SIGSTOP');
    expect((await run.exited).code).toBe(WATCHDOG_EXIT_CODE);
    expect(run.text()).not.toMatch(/on hold/);
  }, T);

  it('a stale hold file (older than CLAWDFLY_WATCHDOG_HOLD_MAX) is ignored', async () => {
    const run = await start({ env: { CLAWDFLY_WATCHDOG_HOLD_MAX: '1s' } });
    const pid = await run.gatewayPid();
    await run.waitFor(/watchdog: armed/);
    const hold = join(run.dir, 'clawdfly-watchdog.hold');
    writeFileSync(hold, 'backup\n');
    const old = new Date(Date.now() - 60_000);
    utimesSync(hold, old, old);
    await run.waitFor(/watchdog: ignoring .*clawdfly-watchdog\.hold: older than 1 s/);
    process.kill(pid, 'SIGSTOP');
    expect((await run.exited).code).toBe(WATCHDOG_EXIT_CODE);
  }, T);

  it('a config change (hot reload): failed checks do not count for the reload grace, then they do', async () => {
    const run = await start();
    const pid = await run.gatewayPid();
    await run.waitFor(/watchdog: armed/);
    const config = join(run.dir, 'openclaw.json');
    const later = new Date(Date.now() + 5_000);
    utimesSync(config, later, later);
    process.kill(pid, 'SIGSTOP');
    const changed = await run.waitFor(/watchdog: .*openclaw\.json changed/);
    expect(changed).toMatch(/failed checks do not count for 600 ms \(config reload\)/);
    await run.waitFor(/watchdog: check failed during a config reload, not counted/);
    const end = await run.exited;
    expect(end.code).toBe(WATCHDOG_EXIT_CODE);
    // the order is the proof: not counted first, counted after the grace
    const text = run.text();
    expect(text.indexOf('not counted')).toBeLessThan(text.indexOf('check 1/3 failed'));
  }, T);

  it('CLAWDFLY_WATCHDOG=off: said once at start; a frozen gateway is left alone', async () => {
    const run = await start({ env: { CLAWDFLY_WATCHDOG: 'off' } });
    const pid = await run.gatewayPid();
    await run.waitFor(/\[clawdfly\] watchdog: off \(CLAWDFLY_WATCHDOG=off\): a frozen gateway is not restarted/);
    await run.waitFor(/fake listening/);
    process.kill(pid, 'SIGSTOP');
    // the gateway still takes SIGTERM once continued: the supervisor only forwards
    process.kill(pid, 'SIGCONT');
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
    expect(run.text()).not.toMatch(/armed|check .*failed|restarting/);
  }, T);

  it('bad settings are named and the defaults kept', async () => {
    const run = await start({ env: { CLAWDFLY_WATCHDOG_INTERVAL: 'soon', CLAWDFLY_WATCHDOG_FAILURES: '0' } });
    await run.waitFor(/CLAWDFLY_WATCHDOG_INTERVAL=soon is not a duration like 20s: 20 s/);
    await run.waitFor(/CLAWDFLY_WATCHDOG_FAILURES=0 is not a whole number ≥ 1: 3/);
    await run.waitFor(/watchdog: armed: .*3 failed checks in a row, 20 s apart/);
  }, T);
});

describe('more processes beside the gateway (sidecars)', () => {
  it('a sidecar that exits is started again; SIGTERM stops it with the gateway', async () => {
    const ticker = join(mkdtempSync(join(tmpdir(), 'clawdfly-sidecar-')), 'ticker.mjs');
    dirs.push(join(ticker, '..'));
    writeFileSync(ticker, "console.log('[uploader] tick'); process.on('SIGTERM', () => { console.log('[uploader] stopping'); process.exit(0); }); setTimeout(() => process.exit(0), Number(process.argv[2]));\n");
    const run = await start({ supervisorArgs: ['--sidecar', `uploader=${process.execPath} ${ticker} 10`] });
    await run.waitFor(/uploader exited \(exit 0\); starting it again in 1 s/);
    await waitForCount(run, /\[uploader\] tick/, 2);
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
    expect(run.text()).toContain('[gateway] received SIGTERM; shutting down');
  }, T);
});

describe('supervisor: arguments and settings', () => {
  it('the port to check: --port N (or --port=N) of the gateway command, else the port variable, else the default', async () => {
    // @ts-expect-error plain ESM without types
    const { gatewayPort, parseArgs, parseDuration } = await import('../../templates/runtime/supervisor.mjs');
    expect(gatewayPort(['node', 'dist/index.js', 'gateway', '--port', '3000', '--bind', 'lan'], {}, 'OPENCLAW_GATEWAY_PORT', 18789)).toBe(3000);
    expect(gatewayPort(['node', 'dist/index.js', 'gateway', '--port=8080'], { OPENCLAW_GATEWAY_PORT: '3000' }, 'OPENCLAW_GATEWAY_PORT', 18789)).toBe(8080);
    expect(gatewayPort(['node', 'dist/index.js', 'gateway'], { OPENCLAW_GATEWAY_PORT: '3000' }, 'OPENCLAW_GATEWAY_PORT', 18789)).toBe(3000);
    expect(gatewayPort(['node', 'dist/index.js', 'gateway'], {}, 'OPENCLAW_GATEWAY_PORT', 18789)).toBe(18789);
    expect(['20', '20s', '1.5s', '500ms', '2m', 'soon'].map(parseDuration)).toEqual([20_000, 20_000, 1500, 500, 120_000, undefined]);
    expect(() => parseArgs(['--health-path', '/healthz'])).toThrow(/usage/);
    expect(parseArgs(['--health-path', '/healthz', '--sidecar', 'uploader=node up.mjs --every 1h', '--', 'node', 'x'])).toMatchObject({
      options: { healthPath: '/healthz', sidecars: [{ name: 'uploader', argv: ['node', 'up.mjs', '--every', '1h'] }] },
      argv: ['node', 'x'],
    });
  });
});
