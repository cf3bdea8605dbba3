// Proves the harness itself: the stand-in base image, building and running an image the way a
// Fly machine runs, and the real gateway's config validator on the host.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_IMAGE, buildImage, ensureBaseImage, ensurePodman, podman, runMachine, type Machine } from './podman.js';
import { validateWithRealGateway } from './real-gateway.js';

const MIN = 60_000;
const temps: string[] = [];
const machines: Machine[] = [];

async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

afterAll(async () => {
  for (const m of machines) await m.remove().catch(() => undefined);
  for (const d of temps) await rm(d, { recursive: true, force: true });
}, 2 * MIN);

const SERVER_JS = `
const http = require('node:http');
const fs = require('node:fs');
const port = Number(process.env.PORT);
fs.writeFileSync('/data/boot.txt', 'booted as ' + process.getuid() + ' ' + process.env.GREETING + '\\n', { flag: 'a' });
const srv = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ ok: true, uid: process.getuid(), hasSecret: process.env.SECRET_TOKEN === 'hunter2-' + 'secret' }));
});
srv.listen(port, '0.0.0.0', () => console.log('listening on ' + port));
process.on('SIGTERM', () => {
  console.error('received SIGTERM; shutting down');
  srv.close(() => process.exit(0));
});
`;

const DOCKERFILE = `FROM node:22-bookworm-slim
WORKDIR /app
COPY server.js /app/server.js
USER node
CMD ["node", "/app/server.js"]
`;

describe('container harness', () => {
  const tag = 'localhost/clawdfly-test-harness-http:latest';

  beforeAll(async () => {
    await ensurePodman();
    await ensureBaseImage();
  }, 15 * MIN);

  it('has the stand-in node:22-bookworm-slim with Node 22, npm 10 and user node 1000:1000', async () => {
    const r = await podman(['run', '--rm', BASE_IMAGE, 'sh', '-c', 'node --version; npm --version; id -u node; id -g node; test -d /home/node && echo home']);
    const [node, npm, uid, gid, home] = r.stdout.trim().split('\n');
    expect(node).toMatch(/^v22\./);
    expect(npm).toMatch(/^10\./);
    expect(uid).toBe('1000');
    expect(gid).toBe('1000');
    expect(home).toBe('home');
    // non-root can run node (the image's / must be traversable)
    const asNode = await podman(['run', '--rm', '--user', 'node', BASE_IMAGE, 'node', '-e', 'console.log(process.getuid())']);
    expect(asNode.stdout.trim()).toBe('1000');
  }, 5 * MIN);

  it('builds a Dockerfile FROM node:22-bookworm-slim and reuses it by content hash', async () => {
    const ctx = await tempDir('clawdfly-harness-ctx-');
    await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
    await writeFile(join(ctx, 'server.js'), SERVER_JS);
    const first = await buildImage(ctx, tag);
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    const second = await buildImage(ctx, tag);
    expect(second.cached).toBe(true);
    expect(second.hash).toBe(first.hash);
    // a changed context gets a new hash
    const ctx2 = await tempDir('clawdfly-harness-ctx-');
    await writeFile(join(ctx2, 'Dockerfile'), DOCKERFILE);
    await writeFile(join(ctx2, 'server.js'), SERVER_JS + '\n// changed\n');
    const { hashDir } = await import('./util.js');
    expect(await hashDir(ctx2)).not.toBe(await hashDir(ctx));
  }, 15 * MIN);

  it('runs it like a Fly machine: env + secret, port on loopback, memory limit, /data volume, SIGTERM stop, fresh-rootfs restart', async () => {
    const volume = await tempDir('clawdfly-harness-vol-');
    const m = await runMachine({
      image: tag,
      name: 'harness-http',
      env: { PORT: '3000', GREETING: 'hello', SECRET_TOKEN: 'hunter2-secret' },
      command: ['node', '/app/server.js'],
      volumeDir: volume,
      memoryMb: 256,
      internalPort: 3000,
    });
    machines.push(m);
    expect(m.name).toBe('clawdfly-test-harness-http');
    await m.waitForLog(/listening on 3000/, 2 * MIN);

    const res = await fetch(`http://127.0.0.1:${m.hostPort}/`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, uid: 1000, hasSecret: true });

    // the secret never reached podman's argv
    const created = await podman(['inspect', '--type', 'container', '--format', '{{json .Config.CreateCommand}}', m.name]);
    expect(created.stdout).not.toContain('hunter2-secret');
    expect(created.stdout).toContain('--memory');

    // `fly ssh console -C "tee /data/..."` twin
    const tee = await m.exec(['tee', '/data/clawdbot.json'], '{"gateway":{"mode":"local"}}');
    expect(tee.code).toBe(0);
    expect(await readFile(join(volume, 'clawdbot.json'), 'utf8')).toBe('{"gateway":{"mode":"local"}}');
    expect((await stat(join(volume, 'clawdbot.json'))).uid).toBe(1000);
    expect(await readFile(join(volume, 'boot.txt'), 'utf8')).toBe('booted as 1000 hello\n');

    const st = await m.inspect();
    expect(st.running).toBe(true);
    const peak = await m.peakMemoryMb();
    expect(peak).toBeGreaterThan(5);
    expect(peak).toBeLessThan(256);

    // restart = fresh rootfs (like Fly), volume kept
    expect((await m.exec(['sh', '-c', 'echo x > /tmp/marker'])).code).toBe(0);
    await m.restart();
    await m.waitForLog(/listening on 3000/, 2 * MIN);
    expect((await m.exec(['test', '-e', '/tmp/marker'])).code).not.toBe(0);
    expect(await readFile(join(volume, 'boot.txt'), 'utf8')).toBe('booted as 1000 hello\nbooted as 1000 hello\n');
    expect((await fetch(`http://127.0.0.1:${m.hostPort}/`)).status).toBe(200);

    const stop = await m.stop();
    // a clean stop: exit 0 (a SIGKILL after podman's grace would be 137) and the shutdown line; its duration is the machine's load, not the harness
    expect(stop.exitCode).toBe(0);
    expect(await m.logs()).toContain('received SIGTERM; shutting down');
    expect((await m.inspect()).running).toBe(false);
    await m.remove();
  }, 10 * MIN);

  it('fails fast with the log tail when the process exits before the awaited line', async () => {
    const m = await runMachine({
      image: tag,
      env: {},
      command: ['node', '-e', 'console.log("config broken"); process.exit(3)'],
      volumeDir: await tempDir('clawdfly-harness-vol-'),
      memoryMb: 128,
      internalPort: 3000,
    });
    machines.push(m);
    const err = await m.waitForLog(/never printed/, 5 * MIN).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/exited \(code 3\)/);
    expect(err?.message).toContain('config broken');
    await m.remove();
  }, 5 * MIN);

  it('reports a real OOM kill under the memory limit', async () => {
    const m = await runMachine({
      image: tag,
      env: {},
      command: ['node', '-e', 'const a = []; for (let i = 0; i < 40; i++) a.push(Buffer.alloc(10e6, 1)); console.log("survived")'],
      volumeDir: await tempDir('clawdfly-harness-vol-'),
      memoryMb: 96,
      internalPort: 3000,
    });
    machines.push(m);
    const err = await m.waitForLog(/survived/, 2 * MIN).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const st = await m.inspect();
    expect(st.exitCode).toBe(137);
    expect(st.oomKilled).toBe(true);
    await m.remove();
  }, 5 * MIN);
});

describe('real gateway validator (host, Node 22, clawdbot 2026.1.24-3)', () => {
  it('accepts the walkthrough example config', async () => {
    const cfg = await readFile(new URL('../fixtures/gateway-logs/seed-example-config.json', import.meta.url), 'utf8');
    const r = await validateWithRealGateway(cfg);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.mode).toBe('local');
  }, 15 * MIN);

  it('rejects an unknown top-level key with the gateway’s own problem line', async () => {
    const r = await validateWithRealGateway(JSON.stringify({ foo: 1, gateway: { mode: 'local' } }));
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(['<root>: Unrecognized key: "foo"']);
    expect(r.output).toContain('Config invalid');
  }, 5 * MIN);

  it('reports bad values and treats a config without gateway.mode as valid', async () => {
    const bad = await validateWithRealGateway(JSON.stringify({ gateway: { mode: 'local', port: 'x', bind: 'nope' } }));
    expect(bad.ok).toBe(false);
    expect(bad.problems).toEqual(['gateway.port: Invalid input: expected number, received string', 'gateway.bind: Invalid input']);
    const noMode = await validateWithRealGateway(JSON.stringify({ gateway: { bind: 'lan' } }));
    expect(noMode.ok).toBe(true);
    expect(noMode.mode).toBeUndefined();
  }, 5 * MIN);
});
