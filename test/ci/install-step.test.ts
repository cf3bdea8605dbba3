/**
 * The workflow installs exactly the clawdfly that wrote it, verified. A local registry stand-in
 * serves this checkout's `npm pack` as clawdfly@<version> (every other package is passed through to
 * the npm registry); a user installs clawdfly from it, runs `init --github-actions`, and the test
 * runs the workflow's own install step: npm ci installs that tarball, and refuses other bytes served
 * under the same name. A clawdfly that did not come from a registry (this checkout) is refused
 * unless --clawdfly-spec names a published one.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, TEST_SECRETS } from '../helpers/cli.js';
import { packedClawdfly, type PackedClawdfly } from '../helpers/clawdfly-pack.js';

let server: Server;
let registry = '';
let pack: PackedClawdfly;
/** The bytes the stand-in serves as clawdfly's tarball (a test swaps them). */
let served: Buffer;

beforeAll(async () => {
  pack = packedClawdfly();
  served = readFileSync(pack.file);
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/clawdfly') {
      const manifest = JSON.parse(execFileSync('tar', ['-xzOf', pack.file, 'package/package.json'], { encoding: 'utf8' })) as Record<string, unknown>;
      const dist = { tarball: `${registry}/clawdfly/-/clawdfly-${pack.version}.tgz`, integrity: pack.integrity };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name: 'clawdfly', 'dist-tags': { latest: pack.version }, versions: { [pack.version]: { ...manifest, dist } } }));
    } else if (url === `/clawdfly/-/clawdfly-${pack.version}.tgz`) {
      res.end(served);
    } else {
      // every other package: the npm registry itself
      httpsGet(`https://registry.npmjs.org${url}`, { headers: { accept: req.headers['accept'] ?? 'application/json' } }, (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, { 'content-type': upstream.headers['content-type'] ?? 'application/octet-stream' });
        upstream.pipe(res);
      }).on('error', () => res.writeHead(502).end());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A child process, asynchronously: the registry stand-in answers from this same process. */
function exec(file: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env: { ...process.env, npm_config_registry: `${registry}/`, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

const npm = (args: string[], cwd: string) => exec('npm', args, cwd);

/** The workflow's install step: its working-directory and run line, as GitHub would run them. */
function installStep(workflow: string): { dir: string; run: string } {
  const m = /- name: Install clawdfly[^\n]*\n\s+working-directory: (\S+)\n\s+run: ([^\n]+)\n/.exec(workflow);
  if (!m) throw new Error(`no install step in:\n${workflow}`);
  return { dir: m[1]!, run: m[2]! };
}

describe('the workflow installs the clawdfly that wrote it', () => {
  it('clawdfly from the registry: the lockfile pins its tarball and integrity; the install step installs exactly it, and refuses other bytes', async () => {
    const user = tempDir('clawdfly-user-');
    writeFileSync(join(user, 'package.json'), '{ "private": true }\n');
    const installed = await npm(['install', `clawdfly@${pack.version}`], user);
    expect(installed.code, installed.out).toBe(0);

    const project = join(tempDir(), 'gateway');
    const init = await runCli(['init', '--yes', '--runtime', 'clawdbot', '--github-actions', '--dir', project, '--app', 'test-claw', '--region', 'iad'], {
      env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY },
      bin: join(user, 'node_modules', 'clawdfly', 'bin', 'clawdfly.js'),
    });
    expect(init.code, init.stderr).toBe(0);
    const lock = JSON.parse(readFileSync(join(project, '.github', 'clawdfly', 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; resolved?: string; integrity?: string }> };
    expect(lock.packages['node_modules/clawdfly']).toMatchObject({ version: pack.version, integrity: pack.integrity });
    // npm may leave `resolved` out for a registry package (the registry's URL by name and version)
    expect([undefined, `${registry}/clawdfly/-/clawdfly-${pack.version}.tgz`]).toContain(lock.packages['node_modules/clawdfly']!.resolved);
    // every dependency pinned with its integrity too
    for (const [path, node] of Object.entries(lock.packages)) if (path) expect(node.integrity, path).toMatch(/^sha512-/);

    const workflow = readFileSync(join(project, '.github', 'workflows', 'deploy.yml'), 'utf8');
    expect(workflow).not.toMatch(/npx --yes clawdfly@/);
    const step = installStep(workflow);
    const ran = await exec('sh', ['-c', step.run], join(project, step.dir), { GITHUB_WORKSPACE: project });
    expect(ran.code, ran.out).toBe(0);
    const bin = join(project, '.github', 'clawdfly', 'node_modules', '.bin', 'clawdfly');
    expect(workflow).toContain('"$GITHUB_WORKSPACE/.github/clawdfly/node_modules/.bin/clawdfly" deploy --yes --json --secrets-from-env');
    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()).toBe(pack.version);

    // Someone else's bytes under the same name and version: a runner (a cold npm cache) refuses them.
    served = gzipSync(Buffer.from('not the clawdfly that was pinned'));
    try {
      spawnSync('rm', ['-rf', join(project, '.github', 'clawdfly', 'node_modules')]);
      const cold = await exec('sh', ['-c', step.run], join(project, step.dir), {
        GITHUB_WORKSPACE: project,
        npm_config_cache: tempDir('clawdfly-npm-cache-'),
        // npm retries a tarball whose integrity does not match (10 s, then 60 s back-off by
        // default) before it gives up with EINTEGRITY; the refusal is the same without the wait.
        npm_config_fetch_retries: '0',
      });
      expect(cold.code).not.toBe(0);
      expect(cold.out).toMatch(/EINTEGRITY|integrity/);
      expect(existsSync(bin)).toBe(false);
    } finally {
      served = readFileSync(pack.file);
    }
  }, 300_000);

  it('clawdfly not from a registry (this checkout): refused with exit 2 and nothing written, unless --clawdfly-spec names a published one', async () => {
    const project = join(tempDir(), 'gateway');
    const base = ['init', '--yes', '--runtime', 'clawdbot', '--github-actions', '--dir', project, '--app', 'test-claw', '--region', 'iad'];
    const refused = await runCli(base, { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY } });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/the CI workflow installs clawdfly from a published source/);
    expect(refused.stderr).toMatch(/--clawdfly-spec/);
    expect(existsSync(project)).toBe(false);

    const tarball = `${registry}/clawdfly/-/clawdfly-${pack.version}.tgz`;
    const pinned = await runCli([...base, '--clawdfly-spec', `${tarball}#${pack.integrity}`], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY } });
    expect(pinned.code, pinned.stderr).toBe(0);
    const step = installStep(readFileSync(join(project, '.github', 'workflows', 'deploy.yml'), 'utf8'));
    const ran = await exec('sh', ['-c', step.run], join(project, step.dir), { GITHUB_WORKSPACE: project });
    expect(ran.code, ran.out).toBe(0);
    expect(execFileSync(join(project, '.github', 'clawdfly', 'node_modules', '.bin', 'clawdfly'), ['--version'], { encoding: 'utf8' }).trim()).toBe(pack.version);

    // a version the registry does not have is said plainly (exit 1), and a version other than this one is refused (exit 2)
    const other = await runCli([...base.map((a) => (a === project ? join(tempDir(), 'g2') : a)), '--clawdfly-spec', '9.9.9'], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY } });
    expect(other.code, other.stderr).toBe(2);
    expect(other.stderr).toMatch(/must run the clawdfly that wrote it/);
  }, 300_000);
});
