/**
 * A fresh `init --yes` project + a fresh flyctl double + a local HTTP server standing in for
 * https://<app>.fly.dev/ (CLAWDFLY_APP_URL), and the bookkeeping the deploy tests assert on.
 * Every double created here is remembered so the suite-wide secret scan can read all of them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error plain ESM without types
import { createFakeFly } from '../fakefly/control.mjs';
import { mayWrite, verbOf } from '../support/fly-writes.mjs';
import { initProject, projectSecrets, ROOT, runCli, TEST_SECRETS, type CliResult } from '../helpers/cli.js';

export const APP = 'test-claw';
export const REMOTE_CONFIG = '/data/clawdbot.json';

export interface Invocation {
  argv: string[];
  exitCode: number;
  stdin: { read: boolean; hadData: boolean; bytes: number };
}

export interface Fake {
  dir: string;
  env: Record<string, string>;
  state(): {
    apps: Record<string, { secrets: Record<string, unknown> }>;
    volumes: Record<string, { app: string; name: string; region: string; attached_machine_id: string | null }>;
  };
  invocations(): Invocation[];
  restarts(machineId?: string): number;
  restartLog(): { reason: string }[];
  machines(app: string): { id: string; state: string; region: string; image_ref?: { tag?: string } }[];
  secrets(app: string): Record<string, string>;
  seedLogs(app: string, lines: (string | { message: string; timestamp?: string })[], opts?: { machineId?: string }): void;
  addExitEvent(app: string, machineId: string, ev: Record<string, unknown>): void;
  scheduleExit(app: string, machineId: string, ev: Record<string, unknown>, lines?: string[]): void;
  setMachine(app: string, machineId: string, patch: Record<string, unknown>): void;
  machineFsPath(app: string, machineId: string, path: string): string;
  addApp(name: string): void;
  cleanup(): void;
}

/** Every double and project of the run, for the suite-wide secret scan. */
export const ALL_FAKES: Fake[] = [];
export const ALL_PROJECTS: string[] = [];
/** Every byte clawdfly printed in these tests. */
export const ALL_OUTPUT: string[] = [];

let server: Server | undefined;
let serverUrl = '';
export let urlHits = 0;

/**
 * What openclaw 2026.9.6 answers on its health endpoints, recorded from the real gateway
 * (test/fixtures/openclaw-health/2026.9.6.json): the stand-in answers the same once it is ready.
 */
type HealthAnswer = { status: number; body: unknown };
export const OPENCLAW_HEALTH = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'openclaw-health', '2026.9.6.json'), 'utf8')) as {
  afterListening: Record<string, HealthAnswer>;
  afterReady: Record<string, HealthAnswer>;
  channelFailing: Record<string, HealthAnswer>;
};
let readyzScript: HealthAnswer[] | (() => HealthAnswer) = [];
export let readyzHits = 0;
/**
 * The next /readyz answers, one per request; the last one stays (empty: the ready answer). Or a
 * function asked on every request (e.g. by which image the double's machine runs).
 */
export function scriptReadyz(answers: HealthAnswer[] | (() => HealthAnswer)): void {
  readyzScript = typeof answers === 'function' ? answers : [...answers];
  readyzHits = 0;
}
function nextReadyz(): HealthAnswer {
  readyzHits++;
  if (typeof readyzScript === 'function') return readyzScript();
  return readyzScript.length > 1 ? readyzScript.shift()! : (readyzScript[0] ?? OPENCLAW_HEALTH.afterReady['/readyz']!);
}

/**
 * Like openclaw (dist/server-start-*.mjs shouldIncludeGatewayProbeDetails): a client that is not on
 * loopback (Fly's proxy) gets the details only with a gateway token as bearer token; else
 * `{"ok","status"}` (/startupz, seen in the image) or `{"ready"}` (/readyz).
 */
function withDetailsFor(authorization: string | undefined, path: string, body: unknown): unknown {
  const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
  const known = token !== undefined && /^[0-9a-f]{64}$/.test(token) && ALL_PROJECTS.some((dir) => projectSecrets(dir).includes(token));
  if (known || path === '/healthz') return body;
  const b = body as { ok?: boolean; status?: string; ready?: boolean };
  return path === '/readyz' ? { ready: b.ready } : { ok: b.ok, status: b.status };
}

/**
 * The stand-in for https://<app>.fly.dev/: answers like the Control UI's SPA (200 text/html), and on
 * /healthz, /startupz and /readyz like openclaw's own endpoints (clawdbot never asks them).
 */
export async function startAppServer(): Promise<string> {
  if (server) return serverUrl;
  server = createServer((req, res) => {
    urlHits++;
    const path = (req.url ?? '/').split('?')[0]!;
    const health = path === '/readyz' ? nextReadyz() : OPENCLAW_HEALTH.afterReady[path];
    if (health) {
      res.writeHead(health.status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(withDetailsFor(req.headers.authorization, path, health.body)));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>Clawdbot Control</title>');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return serverUrl;
}

export async function stopAppServer(): Promise<void> {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
}

export interface Project {
  dir: string;
  fake: Fake;
  env: Record<string, string>;
  deploy(args?: string[], extraEnv?: Record<string, string | undefined>): Promise<CliResult>;
  /** Invocations made since the last call of mark(). */
  since(mark: number): Invocation[];
  machineId(): string;
  remoteConfig(): string | undefined;
  localConfigPath: string;
}

export async function newProject(opts: { initFlags?: string[]; initEnv?: Record<string, string>; fakeEnv?: Record<string, string> } = {}): Promise<Project> {
  const url = await startAppServer();
  const fake = createFakeFly({
    env: {
      // the double writes the gateway's boot lines ("[gateway] listening on ws://0.0.0.0:3000 (PID n)") on deploy/restart
      FAKEFLY_BOOT_LOGS: '1',
      // logs --no-tail on an empty buffer answers "nothing" at once instead of hanging until our timeout
      FAKEFLY_LOGS_EMPTY_EXIT: '1',
      CLAWDFLY_APP_URL: url,
      CLAWDFLY_VERIFY_INTERVAL_MS: '300',
      CLAWDFLY_VERIFY_TIMEOUT_MS: '45000',
      ...opts.fakeEnv,
    },
  }) as Fake;
  ALL_FAKES.push(fake);
  const dir = await initProject(opts.initFlags ?? [], opts.initEnv ?? {});
  ALL_PROJECTS.push(dir);
  const project: Project = {
    dir,
    fake,
    env: fake.env,
    localConfigPath: join(dir, 'clawdbot.json'),
    async deploy(args = ['--yes'], extraEnv = {}) {
      const result = await runCli(['deploy', '--dir', dir, ...args], { env: { ...fake.env, ...extraEnv }, timeoutMs: 120_000 });
      ALL_OUTPUT.push(result.stdout, result.stderr);
      return result;
    },
    since(mark) {
      return fake.invocations().slice(mark);
    },
    machineId() {
      const [machine] = fake.machines(APP);
      if (!machine) throw new Error('no machine');
      return machine.id;
    },
    remoteConfig() {
      const path = fake.machineFsPath(APP, project.machineId(), REMOTE_CONFIG);
      return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    },
  };
  return project;
}

/** "volumes create", "secrets import", … of an invocation. */
export function verb(inv: Invocation): string {
  return verbOf(inv);
}

/** Calls that may have changed remote state: everything not on the read-only allow-list. */
export function mutations(invs: Invocation[]): string[] {
  return invs.filter((i) => mayWrite(i)).map((i) => i.argv.join(' '));
}

export function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

/** Every secret value the suite knows: the fixed test values plus each project's gateway token. */
export function allSecretValues(): string[] {
  return [...new Set([...Object.values(TEST_SECRETS), ...ALL_PROJECTS.flatMap((dir) => projectSecrets(dir))])];
}
