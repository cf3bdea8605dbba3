/**
 * doctor's leftovers check: clawdfly's own work folders an interrupted restore or upgrade left on
 * /data are listed with their sizes (a snapshot a recorded release still goes back to is not one,
 * nor is a link that merely has such a name); `doctor --fix` shows them, then removes them as the
 * owner, never through a link.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { APP, check, cleanupAll, deployed } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(cleanupAll);

describe('doctor: leftovers on the volume', () => {
  it('lists them with sizes, keeps what a release needs, and --fix removes them after showing them', async () => {
    const d = await deployed();
    const preRestore = '/data/.pre-restore-20261206T101500Z-a1B2c3';
    const oldSnapshot = '/data/.clawdfly-pre-upgrade-Old12345';
    const needed = '/data/.clawdfly-pre-upgrade-Needed12';
    d.writeRemote(`${preRestore}/credentials/creds.json`, 'x'.repeat(300 * 1024));
    d.writeRemote(`${oldSnapshot}/devices/paired.json`, '{}');
    d.writeRemote(`${needed}/devices/paired.json`, '{}');
    // a link with one of our names: not a folder of ours, never followed, never removed
    const outside = tempDir('clawdfly-outside-');
    writeFileSync(join(outside, 'keep.txt'), 'keep');
    symlinkSync(outside, d.remotePath('/data/.pre-restore-20261206T101500Z-link12'));
    // the release history names the snapshot an upgrade's rollback goes back to
    mkdirSync(join(d.dir, '.clawdfly'), { recursive: true });
    writeFileSync(join(d.dir, '.clawdfly', 'releases.json'), JSON.stringify({ version: 1, app: APP, releases: [{ version: '2', imageRef: `registry.fly.io/${APP}:deployment-2`, image: `registry.fly.io/${APP}:deployment-2`, runtime: 'openclaw@2026.9.6', files: {}, at: new Date().toISOString(), kind: 'upgrade', upgradedFrom: 'clawdbot@2026.1.24-3', stateSnapshot: needed, backup: null }] }));

    const r = await d.doctor();
    const c = check(r.json, 'leftovers');
    expect(c).toMatchObject({ status: 'warn' });
    expect(c.summary).toContain('2 folder(s)');
    expect(c.evidence).toHaveLength(2);
    expect(c.evidence!.find((e) => e.startsWith(preRestore))).toMatch(/\((?:30\d|31\d)(?:\.\d)? KB, from /);
    expect(c.evidence!.some((e) => e.startsWith(oldSnapshot))).toBe(true);
    expect(c.evidence!.join('\n')).not.toContain(needed);
    expect(c.evidence!.join('\n')).not.toContain('link12');

    const fixed = await d.doctor(["--fix", "--yes"]);
    const text = fixed.stdout + fixed.stderr;
    // shown before they go
    expect(text.indexOf(`remove ${preRestore}`)).toBeGreaterThan(-1);
    expect(text.indexOf(`remove ${preRestore}`)).toBeLessThan(text.indexOf('Fixes'));
    expect(existsSync(d.remotePath(preRestore))).toBe(false);
    expect(existsSync(d.remotePath(oldSnapshot))).toBe(false);
    expect(existsSync(d.remotePath(needed))).toBe(true);
    expect(lstatSync(d.remotePath('/data/.pre-restore-20261206T101500Z-link12')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(outside, 'keep.txt'), 'utf8')).toBe('keep');
    const after = await d.doctor();
    expect(check(after.json, 'leftovers')).toMatchObject({ status: 'ok', summary: 'none' });
  }, 240_000);

  it('a restore stopped before clawdfly confirmed it: says what the next boot does and what to run; --fix removes the staged and failed folders', async () => {
    const d = await deployed();
    const staged = '/data/.clawdfly-staged-restore-abc123XyZ';
    const failed = '/data/.failed-restore-20261206T101500Z-q9W8e7';
    d.writeRemote(`${staged}/openclaw.json`, '{}');
    d.writeRemote(`${failed}/openclaw.json`, '{}');
    d.writeRemote('/data/.clawdfly-restore.json', JSON.stringify({ format: 'clawdfly-restore/1', state: 'applied', preRestore: '.pre-restore-20261206T101500Z-a1B2c3', appliedAt: new Date().toISOString(), applyWithinMs: 600000 }, null, 2));
    const r = await d.doctor();
    const c = check(r.json, 'leftovers');
    expect(c).toMatchObject({ status: 'warn' });
    expect(c.summary).toContain('a restore was applied at boot and never confirmed');
    expect(c.evidence).toEqual(expect.arrayContaining(['/data/.clawdfly-restore.json', expect.stringMatching(/^\/data\/\.clawdfly-staged-restore-abc123XyZ \(/), expect.stringMatching(/^\/data\/\.failed-restore-20261206T101500Z-q9W8e7 \(/)]));
    expect(c.fix).toContain('clawdfly restore <file> --yes');

    await d.doctor(['--fix', '--yes']);
    expect(existsSync(d.remotePath(staged))).toBe(false);
    expect(existsSync(d.remotePath(failed))).toBe(false);
  }, 240_000);
});
