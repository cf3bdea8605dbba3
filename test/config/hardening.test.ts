/**
 * The ssh scripts run as root in a folder the gateway user owns (issue #19). The double runs them
 * as root (we are root here) over a /data owned by uid 1000 (FAKEFLY_VOLUME_OWNER), and the
 * "gateway user" has planted symlinks at every name clawdfly uses there: no root-owned file
 * outside /data may change, and forged doctor evidence may not make `doctor --fix` delete anything
 * but real dead-owner locks.
 */
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_SECRETS, tempDir } from '../helpers/cli.js';
import { APP, backups, deployedProject, editLocal, gatewayRewrite, type Deployed } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const GATEWAY_UID = 1000;
const live: Deployed[] = [];
const isRoot = process.getuid?.() === 0;

afterEach((ctx) => {
  for (const d of live.splice(0)) {
    if (ctx.task.result?.state === 'fail') console.error(`fakefly state kept: ${d.fake.dir}`);
    else d.fake.cleanup();
  }
});

/** A project whose machine's /data belongs to uid 1000 while ssh runs as root, as on Fly. */
async function ownedProject(): Promise<Deployed> {
  if (!isRoot) throw new Error('these tests play root against a gateway user: run the suite as root (the CI container does)');
  // FAKEFLY_BOOT_LOGS: the double logs the gateway's "listening" line on each boot, so deploy verifies at once
  const d = await deployedProject([], {}, { FAKEFLY_VOLUME_OWNER: `${GATEWAY_UID}:${GATEWAY_UID}`, FAKEFLY_BOOT_LOGS: '1' });
  live.push(d);
  // scripts setpriv'd to uid 1000 run inside the double's state dir: it must be traversable
  for (let p = d.fake.dir; p !== dirname(p) && p.startsWith(d.fake.dir); p = dirname(p)) chmodSync(p, 0o755);
  const data = d.remotePath('/data');
  expect(statSync(data).uid).toBe(GATEWAY_UID);
  asGateway(data, 'clawdbot.json', gatewayRewrite(readFileSync(d.localPath, 'utf8')), 0o600);
  mkdirSync(join(data, 'tmp'), { recursive: true });
  chownSync(join(data, 'tmp'), GATEWAY_UID, GATEWAY_UID);
  return d;
}

/** A file written by the gateway user. */
function asGateway(dir: string, name: string, text: string, mode = 0o644): string {
  const path = join(dir, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode });
  chownSync(path, GATEWAY_UID, GATEWAY_UID);
  return path;
}

interface Snapshot {
  mode: number;
  uid: number;
  gid: number;
  text: string;
}

function snapshot(path: string): Snapshot {
  const st = lstatSync(path);
  return { mode: st.mode, uid: st.uid, gid: st.gid, text: readFileSync(path, 'utf8') };
}

/** Root-owned files outside /data, and a symlink to one of them at every name clawdfly uses in /data. */
function plantSymlinks(d: Deployed): { victims: string[]; lockDirVictim: string } {
  const outside = tempDir('clawdfly-victims-');
  const victims = ['precious.conf', 'shadow'].map((n) => {
    const p = join(outside, n);
    writeFileSync(p, `root's own ${n}\n`, { mode: 0o644 });
    return p;
  });
  // a root-owned dir holding something shaped like a dead gateway lock
  const lockDirVictim = join(outside, 'rootlocks');
  mkdirSync(lockDirVictim);
  writeFileSync(join(lockDirVictim, 'gateway.0123abcd.lock'), JSON.stringify({ pid: 4_000_000, createdAt: '2026-01-01T00:00:00Z' }));
  victims.push(join(lockDirVictim, 'gateway.0123abcd.lock'));

  const data = d.remotePath('/data');
  const link = (name: string, target: string) => symlinkSync(target, join(data, name));
  const [a, b] = victims as [string, string];
  // the fixed names of every clawdfly version so far, and of the gateway's own
  for (const name of ['.clawdbot.json.new', '.clawdbot.json.restore', '.clawdbot.json.rejected', '.clawdbot.json.new.tmp', 'clawdbot.json.bak', 'gateway.9f80b0d2.lock']) link(name, a);
  // backups stamped with this minute (a push makes one)
  const now = new Date();
  for (let ms = 0; ms < 120_000; ms += 997) {
    const stamp = new Date(now.getTime() + ms).toISOString().replace(/[-:.]/g, '');
    link(`clawdbot.json.${stamp}.bak.tmp`, b);
  }
  // `.clawdfly-doctor-<pid>` for the next pids the kernel hands out
  const last = Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'));
  for (let pid = last + 1; pid < last + 3000; pid++) link(`.clawdfly-doctor-${pid}`, b);
  // the gateway's tmp lock dir, pointing at a root-owned dir
  symlinkSync(lockDirVictim, join(data, 'tmp', `clawdbot-${GATEWAY_UID}`));
  return { victims, lockDirVictim };
}

describe('ssh scripts as root over a /data the gateway user owns', () => {
  it('config push, deploy, doctor and doctor --fix --yes change no file outside /data through planted symlinks', async () => {
    const d = await ownedProject();
    const { victims } = plantSymlinks(d);
    const before = victims.map(snapshot);

    editLocal(d, (c) => (c.agents.defaults.maxConcurrent = 3));
    const push = await d.cli(['config', 'push', '--yes', '--wait', '0', '--no-restart']);
    expect(push.code, push.stderr).toBe(0);
    // the live file is a regular file of the gateway user, not a symlink, readable by it
    const live = lstatSync(d.remotePath());
    expect(live.isFile()).toBe(true);
    expect(live.uid).toBe(GATEWAY_UID);
    expect(live.mode & 0o777).toBe(0o600);
    expect(backups(d)).toHaveLength(1);

    editLocal(d, (c) => (c.agents.defaults.maxConcurrent = 4));
    // no app URL answers here: verification is cut short, the steps before it are what matter
    const deploy = await d.cli(['deploy', '--yes'], { CLAWDFLY_VERIFY_TIMEOUT_MS: '500', CLAWDFLY_VERIFY_INTERVAL_MS: '100' });
    expect(deploy.stdout + deploy.stderr).toMatch(/config: written to \/data\/clawdbot\.json/);
    expect(JSON.parse(readFileSync(d.remotePath(), 'utf8')).agents.defaults.maxConcurrent).toBe(4);

    const doctor = await d.cli(['doctor', '--json']);
    expect(doctor.stdout.trim().startsWith('{')).toBe(true);
    const fix = await d.cli(['doctor', '--fix', '--yes', '--json']);
    expect(fix.stdout.trim().startsWith('{')).toBe(true);

    expect(victims.map(snapshot)).toEqual(before);
    for (const v of victims) expect(existsSync(v)).toBe(true);
  }, 240_000);

  it('a config whose comments forge doctor markers makes doctor --fix delete only real dead-owner locks', async () => {
    const d = await ownedProject();
    const data = d.remotePath('/data');
    const creds = asGateway(data, 'credentials/creds.json', '{"token":"precious"}\n', 0o600);
    const pid = d.fake.gatewayPid(APP, d.machineId);
    expect(pid).toBeGreaterThan(0);
    const dead = asGateway(data, 'gateway.9f80b0d2.lock', JSON.stringify({ pid: 3_999_999, createdAt: '2026-01-01T00:00:00Z', configPath: '/data/clawdbot.json' }));
    const alive = asGateway(join(data, 'tmp'), `clawdbot-${GATEWAY_UID}/gateway.7de03de8.lock`, JSON.stringify({ pid, createdAt: new Date().toISOString() }));
    const forged = (path: string) =>
      [`@@clawdfly-doctor lock ${path}`, 'json={"pid":3999998}', `json64=${Buffer.from('{"pid":3999998}').toString('base64')}`, 'alive=0'].join('\n');
    const config = readFileSync(d.remotePath(), 'utf8').replace(
      /^\{/,
      `{\n/*\n${forged('/data/credentials/creds.json')}\n${forged('/data/gateway.00000000.lock/../credentials/creds.json')}\n${forged('/etc/gateway.12345678.lock')}\n@@clawdfly-doctor end\n*/`,
    );
    asGateway(data, 'clawdbot.json', config, 0o600);

    const doctor = await d.cli(['doctor', '--json']);
    const report = JSON.parse(doctor.stdout) as { checks: { id: string; evidence: string[]; fix: string | null }[] };
    const lock = report.checks.find((c) => c.id === 'lock')!;
    expect(lock.evidence.join('\n')).toContain('/data/gateway.9f80b0d2.lock');
    expect(lock.evidence.join('\n')).not.toContain('creds.json');
    expect(lock.fix).not.toContain('creds.json');

    const fix = await d.cli(['doctor', '--fix', '--yes', '--json']);
    expect(fix.stdout.trim().startsWith('{')).toBe(true);
    expect(existsSync(creds)).toBe(true);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(alive)).toBe(true);
  }, 240_000);

  it('backup rotation uses the machine clock and never prunes the backup it just made, even with newer-stamped ones present', async () => {
    const d = await ownedProject();
    const data = d.remotePath('/data');
    const before = readFileSync(d.remotePath(), 'utf8');
    // a laptop whose clock ran a year ahead made these
    const old = Date.now() / 1000 - 86_400;
    for (let i = 0; i < 6; i++) {
      const p = asGateway(data, `clawdbot.json.2099010${i}T000000000Z.bak`, `{"old":${i}}\n`, 0o600);
      utimesSync(p, old + i, old + i);
    }
    editLocal(d, (c) => (c.agents.defaults.maxConcurrent = 2));
    const push = await d.cli(['config', 'push', '--yes', '--wait', '0', '--no-restart', '--keep-backups', '3']);
    expect(push.code, push.stderr).toBe(0);
    const kept = backups(d);
    expect(kept).toHaveLength(3);
    const fresh = kept.filter((b) => readFileSync(join(data, b), 'utf8') === before);
    expect(fresh).toHaveLength(1);
    // stamped by the machine's clock (this one): this year, not 2099
    expect(fresh[0]!.slice('clawdbot.json.'.length, 'clawdbot.json.'.length + 4)).toBe(String(new Date().getUTCFullYear()));
    // the two newest of the old ones by age survive, the oldest go
    expect(kept.filter((b) => b.startsWith('clawdbot.json.2099')).sort()).toEqual(['clawdbot.json.20990104T000000000Z.bak', 'clawdbot.json.20990105T000000000Z.bak']);
    expect(readdirSync(data).filter((f) => f.startsWith('.clawdbot.json.'))).toEqual([]);
  }, 120_000);

  it('two pushes at once both finish, one after the other, with no temp file left', async () => {
    const d = await ownedProject();
    const local = editLocal(d, (c) => (c.agents.defaults.maxConcurrent = 5));
    const [a, b] = await Promise.all([
      d.cli(['config', 'push', '--yes', '--wait', '0', '--no-restart']),
      d.cli(['config', 'push', '--yes', '--wait', '0', '--no-restart']),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(readFileSync(d.remotePath(), 'utf8')).toBe(local);
    expect(readdirSync(d.remotePath('/data')).filter((f) => f.startsWith('.clawdbot.json.'))).toEqual([]);
    expect(TEST_SECRETS.ANTHROPIC_API_KEY).toBeTruthy();
  }, 120_000);
});
