/**
 * doctor's offsite check: the uploader's status file on the volume (/data/.clawdfly-offsite.json,
 * written by templates/runtime/offsite.mjs) against fly.toml's CLAWDFLY_OFFSITE_EVERY: ok within
 * twice the interval, warn beyond or before the first upload, fail when stale and the last attempt
 * failed (the machine's error text shown through the output filter), skip when not scheduled.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { check, cleanupAll, deployed } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

useInProcessCli();
afterAll(cleanupAll);
const T = 300_000;
const STATUS = '/data/.clawdfly-offsite.json';
const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

describe('doctor: off-site copies', () => {
  it('judges the newest copy against the schedule, from the status file on the volume', async () => {
    const d = await deployed({ flyToml: (t) => t.replace('[env]\n', '[env]\n  CLAWDFLY_OFFSITE_EVERY = "1h"\n') });
    const secretsFile = join(d.dir, '.clawdfly', 'secrets.env');
    const withoutKey = readFileSync(secretsFile, 'utf8');
    writeFileSync(secretsFile, `${withoutKey}CLAWDFLY_BACKUP_KEY="${randomBytes(32).toString('base64')}"\n`, { mode: 0o600 });

    let c = check((await d.doctor()).json, 'offsite');
    expect(c.status).toBe('warn');
    expect(c.summary).toMatch(/no uploader status yet \(\/data\/\.clawdfly-offsite\.json\)/);
    expect(c.fix).toMatch(/clawdfly deploy/);

    d.writeRemote(STATUS, JSON.stringify({ every: 3600, lastUploadAt: ago(30), lastObject: '20261130T031500Z.tar.enc', lastError: null, lastErrorAt: null }));
    c = check((await d.doctor()).json, 'offsite');
    expect(c.status).toBe('ok');
    expect(c.summary).toBe('newest off-site copy 30 min old (every 1h)');
    expect(c.evidence[0]).toContain('20261130T031500Z.tar.enc');

    d.writeRemote(STATUS, JSON.stringify({ every: 3600, lastUploadAt: ago(180), lastObject: 'x.tar.enc', lastError: null, lastErrorAt: null }));
    c = check((await d.doctor()).json, 'offsite');
    expect(c.status).toBe('warn');
    expect(c.summary).toMatch(/is 3 h old: more than twice the interval \(1h\)/);

    d.writeRemote(STATUS, JSON.stringify({ every: 3600, lastUploadAt: ago(300), lastObject: 'x.tar.enc', lastError: 'AccessDenied: bad key\u001b[2J', lastErrorAt: ago(2) }));
    const r = await d.doctor();
    c = check(r.json, 'offsite');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('the uploader fails: AccessDenied: bad key\\u001b[2J (newest copy: 5 h)');
    expect(r.stdout).not.toContain('\u001b');

    // a fresh copy, but the key is not kept here: a new app could restore none of them
    d.writeRemote(STATUS, JSON.stringify({ every: 3600, lastUploadAt: ago(10), lastObject: 'x.tar.enc', lastError: null, lastErrorAt: null }));
    writeFileSync(secretsFile, withoutKey, { mode: 0o600 });
    c = check((await d.doctor()).json, 'offsite');
    expect(c.status).toBe('warn');
    expect(c.summary).toBe('CLAWDFLY_BACKUP_KEY is not in .clawdfly/secrets.env: the off-site copies are encrypted with it, and without it none can be restored into a new app');
    expect(c.evidence[0]).toBe('newest off-site copy 10 min old (every 1h)');
  }, T);

  it('skips a project with no schedule', async () => {
    const d = await deployed();
    const c = check((await d.doctor()).json, 'offsite');
    expect(c.status).toBe('skip');
    expect(c.summary).toMatch(/no off-site copies scheduled/);
  }, T);
});
