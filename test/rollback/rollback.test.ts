/**
 * `clawdfly rollback` against the flyctl double: deploy → change the Dockerfile and the config →
 * deploy again → rollback puts back the first release's exact image (the double's registry hands
 * back the same image, digest included), its local files and its remote config. A dry run and a
 * refused run change nothing; an image Fly pruned stops the run with nothing changed locally.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { ALL_OUTPUT, APP, allSecretValues, mutations, newProject, stopAppServer, type Project } from '../deploy/setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(stopAppServer);

async function cli(p: Project, args: string[]): Promise<CliResult> {
  const r = await runCli([...args, '--dir', p.dir], { env: p.env, timeoutMs: 120_000 });
  ALL_OUTPUT.push(r.stdout, r.stderr);
  return r;
}

function imageRef(p: Project): unknown {
  const [machine] = p.fake.machines(APP);
  return machine!.image_ref;
}

function read(p: Project, file: string): string {
  return readFileSync(join(p.dir, file), 'utf8');
}

function releases(p: Project): { version: string; kind: string; imageRef: string; image: string; runtime: string; backup: string | null; rolledBackTo?: string; files: Record<string, { sha256: string }> }[] {
  return JSON.parse(read(p, '.clawdfly/releases.json')).releases;
}

function backups(p: Project): string[] {
  const dir = join(p.dir, '.clawdfly', 'backups');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.tar.gz')) : [];
}

/** Two releases: the init project, then a changed Dockerfile and config. Returns the first one's facts. */
async function twoReleases(p: Project) {
  const first = await p.deploy(['--yes', '--json']);
  expect(first.code, first.stderr).toBe(0);
  const v1 = { image: imageRef(p), dockerfile: read(p, 'Dockerfile'), config: read(p, 'clawdbot.json'), remote: p.remoteConfig()!, flyToml: read(p, 'fly.toml') };
  writeFileSync(join(p.dir, 'Dockerfile'), `${v1.dockerfile}\n# a change that needs a new image\nLABEL rollback.test="v2"\n`);
  const config = JSON.parse(v1.config);
  config.agents.defaults.maxConcurrent = 7;
  writeFileSync(join(p.dir, 'clawdbot.json'), JSON.stringify(config, null, 2) + '\n');
  const second = await p.deploy(['--yes', '--json']);
  expect(second.code, second.stderr).toBe(0);
  expect(imageRef(p)).not.toEqual(v1.image);
  expect(JSON.parse(p.remoteConfig()!).agents.defaults.maxConcurrent).toBe(7);
  return v1;
}

describe('clawdfly rollback', () => {
  it('records each deploy, then puts back the first image ref, local files and remote config', async () => {
    const p = await newProject();
    const v1 = await twoReleases(p);
    const recorded = releases(p);
    expect(recorded.map((r) => r.kind)).toEqual(['deploy', 'deploy']);
    expect(recorded[0]!.runtime).toMatch(/^clawdbot/);
    expect(Object.keys(recorded[0]!.files)).toEqual(expect.arrayContaining(['fly.toml', 'Dockerfile', 'clawdbot.json', 'runtime/package.json']));
    expect(Object.keys(recorded[0]!.files)).not.toContain('.clawdfly/secrets.env');
    // the copies are private and out of git; the history holds no secret value
    const copy = join(p.dir, '.clawdfly', 'releases', recorded[0]!.version);
    expect(statSync(join(copy, 'clawdbot.json')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(copy, 'secrets.env'))).toBe(false);
    expect(read(p, '.clawdfly/releases/.gitignore')).toMatch(/^\*$/m);
    const historyText = read(p, '.clawdfly/releases.json');
    for (const secret of allSecretValues()) expect(historyText).not.toContain(secret);

    // status: the current release and the one rollback goes to
    const status = await cli(p, ['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const rel = JSON.parse(status.stdout).releases;
    expect(rel.current).toMatchObject({ version: recorded[1]!.version, running: true });
    expect(rel.rollbackTo).toMatchObject({ version: recorded[0]!.version, imageRef: recorded[0]!.imageRef });
    const human = await cli(p, ['status']);
    expect(human.stdout + human.stderr).toMatch(new RegExp(`Rollback to\\s+v${recorded[0]!.version}`));

    // --dry-run: the plan, and no change anywhere
    const image2 = imageRef(p);
    const dockerfile2 = read(p, 'Dockerfile');
    let mark = p.fake.invocations().length;
    const dry = await cli(p, ['rollback', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan).toMatchObject({ dryRun: true, to: { version: recorded[0]!.version, imageRef: recorded[0]!.imageRef }, pushConfig: true });
    expect(plan.files).toEqual(expect.arrayContaining([{ path: 'Dockerfile', change: 'update' }, { path: 'clawdbot.json', change: 'update' }]));
    expect(mutations(p.since(mark))).toEqual([]);
    expect(read(p, 'Dockerfile')).toBe(dockerfile2);
    expect(imageRef(p)).toEqual(image2);
    expect(backups(p)).toEqual([]);
    const dryHuman = await cli(p, ['rollback', '--dry-run']);
    expect(dryHuman.stdout + dryHuman.stderr).toContain('-LABEL rollback.test="v2"');

    // no terminal and no --yes, or an unknown release: exit 2 before any flyctl call
    mark = p.fake.invocations().length;
    const refused = await cli(p, ['rollback']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    const unknown = await cli(p, ['rollback', '--to', 'v99', '--yes']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('v99');
    expect(p.since(mark)).toEqual([]);
    expect(read(p, 'Dockerfile')).toBe(dockerfile2);

    // the rollback itself
    mark = p.fake.invocations().length;
    const r = await cli(p, ['rollback', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const done = JSON.parse(r.stdout);
    expect(done).toMatchObject({ ok: true, config: 'written', to: { version: recorded[0]!.version } });
    expect(imageRef(p)).toEqual(v1.image);
    const deploys = p.since(mark).filter((i) => i.argv[0] === 'deploy');
    expect(deploys).toHaveLength(1);
    // by the digest the machine reported for that release, not by its (movable) tag
    expect(deploys[0]!.argv).toEqual(expect.arrayContaining(['--image', `registry.fly.io/${APP}@${recorded[0]!.imageRef.split('@')[1]}`]));
    expect(read(p, 'Dockerfile')).toBe(v1.dockerfile);
    expect(read(p, 'clawdbot.json')).toBe(v1.config);
    expect(read(p, 'fly.toml')).toBe(v1.flyToml);
    expect(JSON.parse(p.remoteConfig()!)).toEqual(JSON.parse(v1.remote));
    expect(backups(p)).toHaveLength(1);
    const after = releases(p);
    expect(after).toHaveLength(3);
    expect(after[2]).toMatchObject({ kind: 'rollback', rolledBackTo: recorded[0]!.version, imageRef: recorded[0]!.imageRef });
    expect(after[2]!.backup).toMatch(/^\.clawdfly\/backups\/.+\.tar\.gz$/);

    // what runs is what the project says: the next deploy neither rebuilds nor redeploys
    mark = p.fake.invocations().length;
    const again = await p.deploy(['--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).changes).not.toContain('deploy');
    expect(imageRef(p)).toEqual(v1.image);

    for (const text of ALL_OUTPUT) for (const secret of allSecretValues()) expect(text).not.toContain(secret);
  }, 300_000);

  it('an image Fly pruned: says so, changes nothing locally or on the machine', async () => {
    const p = await newProject();
    await twoReleases(p);
    const [first] = releases(p);
    (p.fake as unknown as { pruneImage(ref: string): void }).pruneImage(first!.image);
    const before = { dockerfile: read(p, 'Dockerfile'), config: read(p, 'clawdbot.json'), image: imageRef(p), remote: p.remoteConfig(), history: read(p, '.clawdfly/releases.json') };
    const r = await cli(p, ['rollback', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no longer exists');
    expect(r.stderr).toContain('clawdfly deploy');
    expect(read(p, 'Dockerfile')).toBe(before.dockerfile);
    expect(read(p, 'clawdbot.json')).toBe(before.config);
    expect(read(p, '.clawdfly/releases.json')).toBe(before.history);
    expect(imageRef(p)).toEqual(before.image);
    expect(p.remoteConfig()).toBe(before.remote);
    expect(backups(p)).toEqual([]);
  }, 300_000);
});
