/**
 * Private mode against the flyctl double: `init --private` + `deploy` leaves the app with one
 * Flycast address and no public one; a public app turned private releases its public addresses
 * only when told (--yes); doctor and status say which it is; `open` tunnels with `fly proxy`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ALL_OUTPUT, APP, newProject, stopAppServer, type Project } from '../deploy/setup.js';
import { BIN, runCli } from '../helpers/cli.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(stopAppServer);

interface Ip { address: string; type: string }
const ipsOf = (p: Project): Ip[] => ((p.fake.state().apps[APP] as unknown as { ips?: Ip[] }).ips ?? []);
const types = (p: Project) => ipsOf(p).map((ip) => ip.type).sort();
const PUBLIC = ['v4', 'v6', 'shared_v4'];

describe('init --private, then deploy', () => {
  it('deploys with --no-public-ips and leaves exactly one private_v6 (Flycast) address', async () => {
    const p = await newProject({ initFlags: ['--private'] });
    const toml = readFileSync(join(p.dir, 'fly.toml'), 'utf8');
    expect(toml).toMatch(/force_https = false/);
    expect(JSON.parse(readFileSync(join(p.dir, '.clawdfly', 'answers.json'), 'utf8')).network).toBe('private');

    const r = await p.deploy(['--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(types(p)).toEqual(['private_v6']);
    const deploys = p.since(0).filter((i) => i.argv[0] === 'deploy');
    expect(deploys.length).toBe(1);
    expect(deploys[0]!.argv).toContain('--no-public-ips');
    expect(p.since(0).some((i) => i.argv.join(' ') === `ips allocate-v6 --private -a ${APP}`)).toBe(true);
    expect(r.stdout).toContain(`http://${APP}.flycast/`);
    expect(r.stdout).toContain('private: no public address');

    // a re-run changes nothing about the addresses
    const mark = p.since(0).length;
    const again = await p.deploy(['--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(p.since(mark).filter((i) => i.argv[0] === 'ips' && i.argv[1] !== 'list')).toEqual([]);
    expect(JSON.parse(again.stdout).url).toBe(`http://${APP}.flycast/`);
  }, 240_000);

  it('a public app turned private: the plan says what breaks, nothing is released without --yes, then only the Flycast address is left', async () => {
    const p = await newProject();
    expect((await p.deploy(['--yes'])).code).toBe(0);
    expect(types(p)).toEqual(['shared_v4', 'v6']);
    const publicAddresses = ipsOf(p).map((ip) => ip.address);

    const reinit = await runCli(['init', '--yes', '--dir', p.dir, '--private'], { env: p.env });
    expect(reinit.code, reinit.stderr).toBe(0);

    const dry = await p.deploy(['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    ALL_OUTPUT.push(dry.stdout);
    expect(dry.stdout).toMatch(/network\s+release\s+private: allocate a private Flycast address; release the public addresses/);
    expect(dry.stdout).toContain(`https://${APP}.fly.dev/ stops answering`);
    for (const address of publicAddresses) expect(dry.stdout).toContain(`flyctl ips release ${address} -a ${APP}`);

    // no terminal and no --yes: refused, nothing released
    const refused = await p.deploy([]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/--yes/);
    expect(types(p)).toEqual(['shared_v4', 'v6']);

    const r = await p.deploy(['--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(types(p)).toEqual(['private_v6']);
    expect(ipsOf(p).some((ip) => PUBLIC.includes(ip.type))).toBe(false);

    const status = await runCli(['status', '--dir', p.dir, '--json'], { env: p.env });
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report.url).toBe(`http://${APP}.flycast/`);
    expect(report.network).toMatchObject({ wanted: 'private', actual: 'private', public: [] });
    expect(report.network.flycast).toHaveLength(1);
  }, 240_000);

  it('doctor network: fails with the public addresses as evidence while a private project is still public', async () => {
    const p = await newProject();
    expect((await p.deploy(['--yes'])).code).toBe(0);
    expect((await runCli(['init', '--yes', '--dir', p.dir, '--private'], { env: p.env })).code).toBe(0);
    const r = await runCli(['doctor', '--dir', p.dir, '--json'], { env: p.env });
    const report = JSON.parse(r.stdout);
    const check = report.checks.find((c: { id: string }) => c.id === 'network');
    expect(check.status).toBe('fail');
    expect(check.summary).toMatch(/private, but the app has public addresses/);
    expect(check.evidence.join('\n')).toMatch(/\(shared_v4\)/);
    expect(check.fix).toMatch(/clawdfly deploy/);
    expect(r.code).not.toBe(0);

    expect((await p.deploy(['--yes'])).code).toBe(0);
    const after = JSON.parse((await runCli(['doctor', '--dir', p.dir, '--json'], { env: p.env })).stdout);
    expect(after.checks.find((c: { id: string }) => c.id === 'network')).toMatchObject({ status: 'ok' });
  }, 240_000);
});

describe('clawdfly open on a private app', () => {
  it('starts fly proxy to <app>.flycast, says when the local port answers, and stops the tunnel on Ctrl-C', async () => {
    const p = await newProject({ initFlags: ['--private'] });
    expect((await p.deploy(['--yes'])).code).toBe(0);
    const mark = p.since(0).length;

    const child = spawn(process.execPath, [BIN, 'open', '--dir', p.dir, '--no-browser', '--port', '0'], {
      env: { ...process.env, ...p.env, NO_COLOR: '1', CI: 'true' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!/tunnel open: (http:\/\/127\.0\.0\.1:\d+\/) answers/.test(stdout)) {
      if (Date.now() > deadline) throw new Error(`no "tunnel open" line; stdout:\n${stdout}\nstderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = /tunnel open: (http:\/\/127\.0\.0\.1:\d+\/) answers/.exec(stdout)![1]!;
    // The port answers for real: the double's proxy listens there.
    const page = await (await fetch(url)).text();
    expect(page).toContain(`${APP}.flycast:80/`);

    const proxies = (p.fake.state() as unknown as { proxies: { pid: number; host: string; remote: number }[] }).proxies;
    expect(proxies).toHaveLength(1);
    expect(proxies[0]).toMatchObject({ host: `${APP}.flycast`, remote: 80 });

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stdout).toContain('tunnel closed');
    // The flyctl proxy process is gone, and the double recorded the exact argv.
    expect(() => process.kill(proxies[0]!.pid, 0)).toThrow();
    const call = p.since(mark).find((i) => i.argv[0] === 'proxy');
    expect(call?.argv).toEqual(['proxy', '0:80', `${APP}.flycast`, '-a', APP, '-q']);
    expect(call?.exitCode).toBe(0);
  }, 240_000);

  it('a tunnel that cannot start (port in use) is reported with the flag that fixes it', async () => {
    const p = await newProject({ initFlags: ['--private'] });
    expect((await p.deploy(['--yes'])).code).toBe(0);
    const { createServer } = await import('node:net');
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await runCli(['open', '--dir', p.dir, '--no-browser', '--port', String(port)], { env: p.env, timeoutMs: 60_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/fly proxy ended before the tunnel answered/);
      expect(r.stderr).toMatch(/--port/);
    } finally {
      busy.close();
    }
  }, 240_000);
});
