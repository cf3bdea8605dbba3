/**
 * A deployed project on the flyctl double whose /data belongs to the gateway user (uid 1000) while
 * ssh runs as root, as on Fly, holding the state the issue names: a 300 KB session file, WhatsApp
 * credentials, the transpile cache under tmp/. Plus helpers to read a folder as {path: sha256}.
 */
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach } from 'vitest';
import { dirname, join } from 'node:path';
import { TEST_SECRETS } from '../helpers/cli.js';
import { deployedProject, type Deployed } from '../config/setup.js';

export const GATEWAY_UID = 1000;

let server: Server | undefined;
let url = '';

/** A local stand-in for https://<app>.fly.dev/ (restore checks the URL once the gateway listens). */
export async function startAppServer(): Promise<string> {
  if (server) return url;
  server = createServer((_req, res) => res.end('<!doctype html><title>Clawdbot Control</title>'));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return url;
}

export async function stopAppServer(): Promise<void> {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
}

/**
 * The deployments a test file makes, for it to push onto: each one's double is removed after its
 * test (kept, and named, when the test failed), and the app server stops after the file.
 */
export function trackDeployments(): Deployed[] {
  const live: Deployed[] = [];
  afterEach((ctx) => {
    for (const d of live.splice(0)) {
      if (ctx.task.result?.state === 'fail') console.error(`fakefly state kept: ${d.fake.dir}`);
      else d.fake.cleanup();
    }
  });
  afterAll(stopAppServer);
  return live;
}

/** The files of the state a test seeds (tmp/ is the cache a backup leaves out). */
export const SESSION = 'agents/main/sessions/3f1c9a.jsonl';
export const CREDS = 'credentials/whatsapp/creds.json';
export const CACHE = 'tmp/jiti/x';

export async function gatewayWithState(initFlags: string[] = []): Promise<Deployed> {
  if (process.getuid?.() !== 0) throw new Error('these tests play root against a gateway user: run the suite as root (the CI container does)');
  const d = await deployedProject(initFlags, {}, {
    FAKEFLY_VOLUME_OWNER: `${GATEWAY_UID}:${GATEWAY_UID}`,
    FAKEFLY_BOOT_LOGS: '1',
    CLAWDFLY_APP_URL: await startAppServer(),
    CLAWDFLY_VERIFY_INTERVAL_MS: '300',
    CLAWDFLY_VERIFY_TIMEOUT_MS: '45000',
  });
  // scripts setpriv'd to uid 1000 run inside the double's state dir: it must be traversable
  for (let p = d.fake.dir; p !== dirname(p) && p.startsWith(d.fake.dir); p = dirname(p)) chmodSync(p, 0o755);
  const data = d.remotePath('/data');
  // 300 KB of session transcript: JSON lines, like the gateway's
  let session = '';
  for (let i = 0; session.length < 300 * 1024; i++) session += `${JSON.stringify({ i, role: i % 2 ? 'assistant' : 'user', text: createHash('sha256').update(String(i)).digest('hex').repeat(4) })}\n`;
  asGateway(data, SESSION, session, 0o600);
  // a secret value inside the state: it must travel in the archive, never on argv or in output
  asGateway(data, CREDS, JSON.stringify({ noiseKey: TEST_SECRETS.DISCORD_BOT_TOKEN, me: { id: '15551234567:1@s.whatsapp.net' } }), 0o600);
  asGateway(data, 'devices/paired.json', JSON.stringify({ 'dev-1': { deviceId: 'dev-1', approvedAt: '2026-11-28T10:00:00Z' } }), 0o600);
  asGateway(data, CACHE, 'transpile cache', 0o644);
  asGateway(data, 'clawdbot.json', readFileSync(d.localPath), 0o600);
  chownSync(data, GATEWAY_UID, GATEWAY_UID);
  return d;
}

/** A file written by the gateway user (its parent folders too). */
export function asGateway(root: string, rel: string, text: string | Buffer, mode = 0o644): string {
  const path = join(root, rel);
  const parts = rel.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const dir = join(root, ...parts.slice(0, i));
    mkdirSync(dir, { recursive: true });
    chownSync(dir, GATEWAY_UID, GATEWAY_UID);
  }
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
  chownSync(path, GATEWAY_UID, GATEWAY_UID);
  return path;
}

/** Every regular file under `root` as {relative path: sha256}; top-level names in `skip` left out. */
export function tree(root: string, skip: (top: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (rel: string) => {
    for (const name of readdirSync(rel ? join(root, rel) : root).sort()) {
      if (!rel && skip(name)) continue;
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, path));
      if (st.isDirectory()) visit(path);
      else out[path] = st.isFile() ? createHash('sha256').update(readFileSync(join(root, path))).digest('hex') : `(${st.isSymbolicLink() ? 'symlink' : 'special'})`;
    }
  };
  visit('');
  return out;
}

/** What a backup holds of a state dir: everything but tmp/ and clawdfly's own work dirs. */
export const notBackedUp = (top: string): boolean => top === 'tmp' || top.startsWith('.pre-restore-') || top.startsWith('.clawdfly-restore-');
