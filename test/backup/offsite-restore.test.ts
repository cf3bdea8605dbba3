/**
 * `restore --from remote[:<name>]` against the flyctl double, /data owned by the gateway user and
 * ssh as root (as on Fly): the machine's uploader (a stand-in for templates/runtime/offsite.mjs)
 * decrypts the copy into a fresh staging folder on the volume, the archive streams here, and the
 * same verified restore as for a local archive puts it back. Bad sources are refused first.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useInProcessCli } from '../helpers/cli.js';
import { APP, type Deployed } from '../config/setup.js';
import { asGateway, CREDS, gatewayWithState, notBackedUp, SESSION, trackDeployments, tree } from './setup.js';

useInProcessCli();

const live = trackDeployments();

const OLDER = '20261129T031500Z.tar.enc';
const NEWEST = '20261130T031500Z.tar.enc';

/**
 * A stand-in uploader: `list --json` lists two copies; `fetch <name> --to <path>` writes the archive
 * planted for that name (readable by the gateway user, as the real one decrypts it) and records
 * where it wrote, so the test can check the staging folder is gone afterwards.
 */
function plantUploader(d: Deployed, archives: Record<string, string>): string {
  const app = d.fake.machineFsPath(APP, d.machineId, '/app');
  mkdirSync(app, { recursive: true });
  const planted: Record<string, string> = {};
  for (const [name, file] of Object.entries(archives)) {
    const copy = join(app, `copy-${Object.keys(planted).length}.tar.gz`);
    copyFileSync(file, copy);
    chmodSync(copy, 0o644);
    planted[name] = copy;
  }
  const record = join(app, 'fetched-to.txt');
  writeFileSync(record, '');
  chmodSync(record, 0o666);
  writeFileSync(
    join(app, 'offsite.mjs'),
    [
      "import fs from 'node:fs';",
      'const [cmd, name, flag, to] = process.argv.slice(2);',
      `const planted = ${JSON.stringify(planted)};`,
      "if (process.env.CLAWDFLY_OFFSITE_APP !== 'test-claw') { console.error('copies of ' + process.env.CLAWDFLY_OFFSITE_APP + '?'); process.exit(5); }",
      `if (cmd === 'list') { process.stdout.write(JSON.stringify([{ name: ${JSON.stringify(OLDER)}, size: 1, time: '2026-11-29T03:15:00Z' }, { name: ${JSON.stringify(NEWEST)}, size: 2, time: '2026-11-30T03:15:00Z' }])); process.exit(0); }`,
      `if (cmd === 'fetch' && flag === '--to') { if (!planted[name]) { console.error('no such copy: ' + name); process.exit(4); } fs.copyFileSync(planted[name], to); fs.appendFileSync(${JSON.stringify(record)}, to + '\\n'); console.log('decrypted ' + name); process.exit(0); }`,
      'process.exit(2);',
    ].join('\n'),
  );
  chmodSync(join(app, 'offsite.mjs'), 0o755);
  return record;
}

async function scheduled(): Promise<Deployed> {
  const d = await gatewayWithState(['--runtime', 'clawdbot']);
  live.push(d);
  const r = await d.cli(['backup', 'schedule', '--every', '1h', '--yes']);
  expect(r.code, r.stderr).toBe(0);
  return d;
}

async function localBackup(d: Deployed): Promise<string> {
  const r = await d.cli(['backup', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { file: string }).file;
}

describe('restore --from remote', () => {
  it('restores the newest off-site copy through the verified restore path, and leaves no staging folder on the volume', async () => {
    const d = await scheduled();
    const data = d.remotePath('/data');
    const older = await localBackup(d);
    asGateway(data, 'devices/paired.json', JSON.stringify({ 'dev-2': { deviceId: 'dev-2' } }), 0o600);
    const expected = tree(data, notBackedUp);
    const newest = await localBackup(d);
    const record = plantUploader(d, { [OLDER]: older, [NEWEST]: newest });
    unlinkSync(join(data, SESSION));
    asGateway(data, CREDS, '{"noiseKey":"lost"}', 0o600);

    const r = await d.cli(['restore', '--from', 'remote', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { file: string; changes: { replaced: string[]; added: string[] } };
    expect(report.changes.added).toEqual([SESSION]);
    expect(report.changes.replaced).toContain(CREDS);
    expect(tree(data, notBackedUp)).toEqual(expected);
    // the copy came here as an archive (0600, .clawdfly/backups), and the machine's staging folder is gone
    expect(report.file).toMatch(/\.clawdfly\/backups\/test-claw-offsite-20261130T031500Z-[0-9a-f]+\.tar\.gz$/);
    expect(existsSync(report.file)).toBe(true);
    const stagedAt = readFileSync(record, 'utf8').trim().split('\n');
    expect(stagedAt).toHaveLength(1);
    expect(stagedAt[0]).toMatch(/\/data\/\.clawdfly-restore-[A-Za-z0-9]{8}\/archive\.tar\.gz$/);
    expect(readdirSync(data).filter((n) => n.startsWith('.clawdfly-restore-'))).toEqual([]);
    // the name travelled as an argv word to the uploader, as the state dir's owner
    const fetch = d.fake.invocations().filter((i) => i.argv[0] === 'ssh' && i.argv.join(' ').includes(' fetch ')).at(-1);
    expect(fetch?.argv.join(' ')).toContain(NEWEST);
  }, 180_000);

  it('the volume-died drill: a new app deployed from the project gets the key and the bucket, and comes back from the old app\'s newest copy', async () => {
    const d = await scheduled();
    const data = d.remotePath('/data');
    const expected = tree(data, notBackedUp);
    const newest = await localBackup(d);
    const NEW = `${APP}-2`;
    const deployed = await d.cli(['deploy', '--app', NEW, '--yes']);
    expect(deployed.code, deployed.stderr).toBe(0);
    // deploy carried the key and the bucket's credentials from secrets.env to the new app
    const local = Object.fromEntries(readFileSync(join(d.dir, '.clawdfly', 'secrets.env'), 'utf8').split('\n').flatMap((l) => {
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(l);
      return m ? [[m[1]!, JSON.parse(m[2]!) as string]] : [];
    }));
    const onNew = (d.fake as unknown as { secrets(app: string): Record<string, string> }).secrets(NEW);
    for (const name of ['CLAWDFLY_BACKUP_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'BUCKET_NAME']) expect(onNew[name], name).toBe(local[name]);
    const [fresh] = d.fake.machines(NEW);
    const freshData = d.fake.machineFsPath(NEW, fresh!.id, '/data');
    chownSync(freshData, 1000, 1000);
    // the new machine's uploader is asked for the old app's copies (fly.toml's app)
    plantUploader({ ...d, machineId: fresh!.id, fake: { ...d.fake, machineFsPath: (_app: string, id: string, p: string) => d.fake.machineFsPath(NEW, id, p) } } as Deployed, { [NEWEST]: newest });
    const r = await d.cli(['restore', '--from', 'remote', '--app', NEW, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ app: NEW, from: { app: APP } });
    // paired device and WhatsApp credentials in place
    expect(tree(freshData, notBackedUp)).toEqual(expected);
    expect(readFileSync(join(freshData, 'devices/paired.json'), 'utf8')).toContain('dev-1');
    expect(readFileSync(join(freshData, CREDS), 'utf8')).toContain('15551234567');
  }, 240_000);

  it('restores a named copy', async () => {
    const d = await scheduled();
    const data = d.remotePath('/data');
    const expected = tree(data, notBackedUp);
    const older = await localBackup(d);
    asGateway(data, 'devices/paired.json', JSON.stringify({ 'dev-2': { deviceId: 'dev-2' } }), 0o600);
    plantUploader(d, { [OLDER]: older });
    const r = await d.cli(['restore', '--from', `remote:${OLDER}`, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(tree(data, notBackedUp)).toEqual(expected);
  }, 180_000);

  it.each([
    [['--from', 'remote:../etc/passwd'], /is not the name of an off-site copy/],
    [['--from', 'local'], /the only source is remote/],
    [['backup.tar.gz', '--from', 'remote'], /not both/],
    [[], /restore what\?/],
  ])('refuses %j before any flyctl call (exit 2)', async (args, cause) => {
    const d = await scheduled();
    const from = d.fake.invocations().length;
    const r = await d.cli(['restore', ...args, '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(cause);
    expect(d.fake.invocations().length).toBe(from);
  }, 60_000);

  it('a copy the uploader cannot fetch: the run stops before anything on the volume changes', async () => {
    const d = await scheduled();
    const data = d.remotePath('/data');
    const before = tree(data, notBackedUp);
    plantUploader(d, {});
    const r = await d.cli(['restore', '--from', `remote:${OLDER}`, '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/fetching the off-site copy .* failed on test-claw's machine \(exit 4\): no such copy/);
    expect(tree(data, notBackedUp)).toEqual(before);
    expect(readdirSync(data).filter((n) => n.startsWith('.clawdfly-restore-'))).toEqual([]);
  }, 60_000);
});
