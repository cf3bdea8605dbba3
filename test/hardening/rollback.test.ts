/**
 * Issue 30, findings 1, 2 and 5, against the flyctl double:
 * - releases.json is data clawdfly validates: a record naming an image outside
 *   registry.fly.io/<this app> is refused (exit 2, no flyctl call, nothing deployed), by `rollback`
 *   and by the automatic rollback inside `upgrade`; a rollback deploys by the recorded digest.
 * - a rollback never changes the network mode: back across `init --private`, the app stays private,
 *   and the next deploy does not publish it.
 * - a rollback puts each file back with its recorded mode (a 0600 clawdbot.json stays 0600).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { ALL_OUTPUT, APP, allSecretValues, newProject, stopAppServer, type Project } from '../deploy/setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(stopAppServer);

const FOREIGN = 'docker.io/attacker/exfil:latest';

async function cli(p: Project, args: string[]): Promise<CliResult> {
  const r = await runCli([...args, '--dir', p.dir], { env: p.env, timeoutMs: 180_000 });
  ALL_OUTPUT.push(r.stdout, r.stderr);
  return r;
}

function read(p: Project, file: string): string {
  return readFileSync(join(p.dir, file), 'utf8');
}

interface Record_ {
  version: string;
  image: string;
  imageRef: string;
  files: Record<string, { sha256: string; mode?: number }>;
}

function history(p: Project): { version: number; app: string; releases: Record_[] } {
  return JSON.parse(read(p, '.clawdfly/releases.json'));
}

function tamper(p: Project, edit: (releases: Record_[]) => void): void {
  const h = history(p);
  edit(h.releases);
  writeFileSync(join(p.dir, '.clawdfly/releases.json'), JSON.stringify(h, null, 2) + '\n');
}

function machineImage(p: Project): { image_ref?: { repository?: string; digest?: string }; config: { image?: string } } {
  return p.fake.machines(APP)[0] as never;
}

/** The app's address types, as the double holds them. */
function ipTypes(p: Project): string[] {
  const app = (p.fake as unknown as { state(): { apps: Record<string, { ips?: { type: string }[] }> } }).state().apps[APP];
  return (app?.ips ?? []).map((ip) => ip.type).sort();
}

/** Two releases of a clawdbot project: v1 as init wrote it (clawdbot.json kept 0600), v2 with a new Dockerfile and config. */
async function twoReleases(p: Project): Promise<void> {
  chmodSync(join(p.dir, 'clawdbot.json'), 0o600);
  const first = await p.deploy(['--yes', '--json']);
  expect(first.code, first.stderr).toBe(0);
  writeFileSync(join(p.dir, 'Dockerfile'), `${read(p, 'Dockerfile')}\nLABEL hardening.test="v2"\n`);
  const config = JSON.parse(read(p, 'clawdbot.json'));
  config.agents.defaults.maxConcurrent = 7;
  writeFileSync(join(p.dir, 'clawdbot.json'), JSON.stringify(config, null, 2) + '\n');
  chmodSync(join(p.dir, 'clawdbot.json'), 0o644);
  const second = await p.deploy(['--yes', '--json']);
  expect(second.code, second.stderr).toBe(0);
}

describe('releases.json is data clawdfly validates', () => {
  it('rollback refuses a record naming a foreign image: exit 2, no flyctl call, nothing changed', async () => {
    const p = await newProject({ initFlags: ['--runtime', 'clawdbot'] });
    await twoReleases(p);
    const dockerfile = read(p, 'Dockerfile');
    const running = machineImage(p).image_ref;

    // only the pullable ref changed (the identity still the release's own), then both
    for (const edit of [
      (r: Record_[]) => { r[0]!.image = FOREIGN; },
      (r: Record_[]) => { r[0]!.image = FOREIGN; r[0]!.imageRef = 'attacker/exfil:latest@sha256:' + 'a'.repeat(64); },
      (r: Record_[]) => { r[0]!.image = `registry.fly.io/${APP}-other:deployment-x`; },
    ]) {
      const saved = read(p, '.clawdfly/releases.json');
      tamper(p, edit);
      for (const args of [['rollback', '--yes'], ['rollback', '--dry-run', '--json']]) {
        const mark = p.fake.invocations().length;
        const r = await cli(p, args);
        expect(r.code, r.stdout + r.stderr).toBe(2);
        expect(r.stdout + r.stderr).toContain('refused');
        expect(r.stdout + r.stderr).toContain(`registry.fly.io/${APP}`);
        expect(p.since(mark)).toEqual([]);
      }
      writeFileSync(join(p.dir, '.clawdfly/releases.json'), saved);
    }
    expect(read(p, 'Dockerfile')).toBe(dockerfile);
    expect(machineImage(p).image_ref).toEqual(running);
    expect(p.fake.invocations().some((i) => i.argv.join(' ').includes('attacker'))).toBe(false);
  }, 300_000);

  it('rollback deploys by the recorded digest, and the machine runs that digest afterwards', async () => {
    const p = await newProject({ initFlags: ['--runtime', 'clawdbot'] });
    await twoReleases(p);
    const [v1] = history(p).releases;
    const digest = v1!.imageRef.split('@')[1]!;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const dry = await cli(p, ['rollback', '--dry-run']);
    expect(dry.stdout).toContain(`fly deploy --image registry.fly.io/${APP}@${digest}, by its recorded digest`);
    const mark = p.fake.invocations().length;
    const r = await cli(p, ['rollback', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const deploys = p.since(mark).filter((i) => i.argv[0] === 'deploy');
    expect(deploys).toHaveLength(1);
    expect(deploys[0]!.argv).toEqual(expect.arrayContaining(['--image', `registry.fly.io/${APP}@${digest}`]));
    expect(machineImage(p).image_ref).toMatchObject({ repository: APP, digest });
    // the rollback's own record is valid data: a second rollback reads the history again
    const again = await cli(p, ['rollback', '--dry-run', '--json']);
    expect(again.code, again.stderr).toBe(0);
  }, 300_000);

  it('a hand-edited record is dropped when a deploy rewrites the history', async () => {
    const p = await newProject({ initFlags: ['--runtime', 'clawdbot'] });
    await twoReleases(p);
    tamper(p, (r) => { r[0]!.image = FOREIGN; });
    // status only reads: it says so, and never offers the refused record as the rollback target
    const status = await cli(p, ['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stderr).toContain('refused');
    expect(JSON.parse(status.stdout).releases.rollbackTo).toBeNull();
    writeFileSync(join(p.dir, 'Dockerfile'), `${read(p, 'Dockerfile')}\nLABEL hardening.test="v3"\n`);
    const third = await p.deploy(['--yes', '--json']);
    expect(third.code, third.stderr).toBe(0);
    expect(read(p, '.clawdfly/releases.json')).not.toContain('attacker');
    expect(history(p).releases).toHaveLength(2);
  }, 300_000);

  it("upgrade's automatic rollback never deploys a foreign image: the tampered history is refused before anything is deployed", async () => {
    const p = await newProject({ initFlags: ['--runtime', 'clawdbot'] });
    const first = await p.deploy(['--yes', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const before = { image: machineImage(p).image_ref, dockerfile: read(p, 'Dockerfile'), answers: read(p, '.clawdfly/answers.json') };
    tamper(p, (r) => { r.at(-1)!.image = FOREIGN; });
    // the new gateway refuses its config at boot: without the refusal, upgrade rolls back by itself to the record's image
    (p.fake as unknown as { failGatewayBoot(g: string, lines: string[]): void }).failGatewayBoot('openclaw', ['Invalid config at /data/openclaw.json:\\n- agents: Unrecognized key: "bogus"']);
    const mark = p.fake.invocations().length;
    const r = await cli(p, ['upgrade', '--to', 'openclaw', '--yes', '--verify-timeout', '30']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain('refused');
    expect(p.since(mark).filter((i) => i.argv[0] === 'deploy')).toEqual([]);
    expect(p.fake.invocations().some((i) => i.argv.join(' ').includes('attacker'))).toBe(false);
    expect(machineImage(p).image_ref).toEqual(before.image);
    expect(read(p, 'Dockerfile')).toBe(before.dockerfile);
    expect(read(p, '.clawdfly/answers.json')).toBe(before.answers);
  }, 300_000);

  it('releases.json is git-ignored, in a new project and in one whose .gitignore predates it', async () => {
    const p = await newProject({ initFlags: ['--runtime', 'clawdbot'] });
    expect(read(p, '.gitignore').split('\n')).toContain('.clawdfly/releases.json');
    // an older project: its .gitignore has no such line; the first release recorded adds .clawdfly/.gitignore
    writeFileSync(join(p.dir, '.gitignore'), read(p, '.gitignore').replace('.clawdfly/releases.json\n', ''));
    const deployed = await p.deploy(['--yes', '--json']);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(existsSync(join(p.dir, '.clawdfly/releases.json'))).toBe(true);
    expect(spawnSync('git', ['init', '-q'], { cwd: p.dir }).status).toBe(0);
    const ignored = spawnSync('git', ['check-ignore', '.clawdfly/releases.json'], { cwd: p.dir, encoding: 'utf8' });
    expect(ignored.status, ignored.stderr).toBe(0);
  }, 120_000);
});

describe('a rollback never changes the network mode', () => {
  it('back across init --private: the plan says private is kept, and the next deploy leaves the app private', async () => {
    const p = await newProject({ initFlags: ['--runtime', 'clawdbot'] });
    const first = await p.deploy(['--yes']);
    expect(first.code, first.stderr).toBe(0);
    expect(ipTypes(p)).toEqual(['shared_v4', 'v6']);
    const reinit = await runCli(['init', '--yes', '--dir', p.dir, '--private', '--runtime', 'clawdbot'], { env: p.env });
    expect(reinit.code, reinit.stderr).toBe(0);
    const second = await p.deploy(['--yes']);
    expect(second.code, second.stderr).toBe(0);
    expect(ipTypes(p)).toEqual(['private_v6']);

    const dry = await cli(p, ['rollback', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/network private, kept \(release v\d+ was made public; a rollback never changes the network mode/);
    const r = await cli(p, ['rollback', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(read(p, '.clawdfly/answers.json')).network).toBe('private');
    expect(read(p, 'fly.toml')).toContain('force_https = false');
    expect(ipTypes(p)).toEqual(['private_v6']);

    // status does not send the user to a deploy that would publish the app
    const status = await cli(p, ['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).network).toMatchObject({ wanted: 'private', actual: 'private' });

    const next = await p.deploy(['--yes']);
    expect(next.code, next.stderr).toBe(0);
    expect(ipTypes(p)).toEqual(['private_v6']);
    expect(p.fake.invocations().some((i) => i.argv[0] === 'ips' && /allocate-v4|allocate-v6(?! --private)/.test(i.argv.join(' ')) && !i.argv.includes('--private'))).toBe(false);
    for (const out of ALL_OUTPUT) for (const secret of allSecretValues()) expect(out).not.toContain(secret);
  }, 300_000);
});

describe('a rollback keeps each file\'s recorded mode', () => {
  it('clawdbot.json recorded 0600 comes back 0600 (it was 0644 in the release rolled back from)', async () => {
    const p = await newProject({ initFlags: ['--runtime', 'clawdbot'] });
    await twoReleases(p);
    expect(statSync(join(p.dir, 'clawdbot.json')).mode & 0o777).toBe(0o644);
    const r = await cli(p, ['rollback', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(join(p.dir, 'clawdbot.json')).mode & 0o777).toBe(0o600);
    expect(history(p).releases[0]!.files['clawdbot.json']!.mode).toBe(0o600);
    expect(existsSync(join(p.dir, 'runtime'))).toBe(true);
  }, 300_000);
});
