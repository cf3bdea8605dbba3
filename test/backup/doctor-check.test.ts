/**
 * doctor's `backup` check reads .clawdfly/backups only (it runs with --offline too): no backup or
 * one older than 7 days is a warning with `clawdfly backup` as the fix; a recent one is ok.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initProject, runCli } from '../helpers/cli.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const APP = 'test-claw';

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

async function backupCheck(dir: string): Promise<{ status: string; summary: string; evidence: string[]; fix: string | null }> {
  const r = await runCli(['doctor', '--offline', '--json', '--dir', dir]);
  const json = JSON.parse(r.stdout) as { checks: { id: string; status: string; summary: string; evidence: string[]; fix: string | null }[] };
  return json.checks.find((c) => c.id === 'backup')!;
}

function putBackup(dir: string, app: string, takenAt: Date): string {
  const backups = join(dir, '.clawdfly', 'backups');
  mkdirSync(backups, { recursive: true });
  const name = `${app}-${stamp(takenAt)}.tar.gz`;
  writeFileSync(join(backups, name), 'x'.repeat(2048), { mode: 0o600 });
  return name;
}

describe('doctor: backup check', () => {
  it('warns without a backup, warns past 7 days, is ok with a recent one (and ignores other apps)', async () => {
    const dir = await initProject();
    const none = await backupCheck(dir);
    expect(none.status).toBe('warn');
    expect(none.summary).toContain('no backup');
    expect(none.fix).toBe('clawdfly backup');

    putBackup(dir, APP, new Date(Date.now() - 8 * 24 * 3600_000));
    putBackup(dir, 'another-app', new Date(Date.now() - 60_000));
    const old = await backupCheck(dir);
    expect(old.status).toBe('warn');
    expect(old.summary).toMatch(/8 days old \(more than 7 days\)/);
    expect(old.fix).toBe('clawdfly backup');

    const recent = putBackup(dir, APP, new Date(Date.now() - 3 * 3600_000));
    const ok = await backupCheck(dir);
    expect(ok.status).toBe('ok');
    expect(ok.summary).toBe('newest backup 3 h old');
    expect(ok.evidence.join('\n')).toContain(recent);
  }, 60_000);
});
