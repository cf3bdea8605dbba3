/**
 * One OpenClaw release to another against the flyctl double: `upgrade --to openclaw@2026.9.6` from a
 * deployed openclaw@2026.9.5, then `rollback`. What a rollback discards is computed from the pair
 * (from → to): both releases keep their SQLite store in `state/`, so going back must leave the store
 * the older gateway starts on in place. (Before, one row's `ownStateEntries: ['state']` made this
 * rollback run `rm -rf /data/state` once 2026.9.5 was verified.)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { ALL_OUTPUT, APP, allSecretValues, newProject, OPENCLAW_HEALTH, readyzHits, scriptReadyz, stopAppServer, type Project } from '../deploy/setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(stopAppServer);

async function cli(p: Project, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await runCli([...args, '--dir', p.dir], { env: { ...p.env, ...env }, timeoutMs: 180_000 });
  ALL_OUTPUT.push(r.stdout, r.stderr);
  return r;
}

function dataPath(p: Project, rel: string): string {
  return p.fake.machineFsPath(APP, p.machineId(), `/data/${rel}`);
}
function writeData(p: Project, rel: string, text: string): void {
  mkdirSync(dirname(dataPath(p, rel)), { recursive: true });
  writeFileSync(dataPath(p, rel), text);
}
function readData(p: Project, rel: string): string | undefined {
  return existsSync(dataPath(p, rel)) ? readFileSync(dataPath(p, rel), 'utf8') : undefined;
}

describe('openclaw → openclaw', () => {
  it('upgrade 2026.9.5 → 2026.9.6, then rollback: 2026.9.5 runs on its own state/ again, nothing of it deleted', async () => {
    const p = await newProject({ initFlags: ['--runtime', 'openclaw@2026.9.5'] });
    expect(JSON.parse(readFileSync(join(p.dir, '.clawdfly', 'answers.json'), 'utf8')).runtime).toBe('openclaw@2026.9.5');
    const first = await p.deploy(['--yes', '--json']);
    expect(first.code, first.stderr).toBe(0);
    // What 2026.9.5 keeps: its SQLite store (sessions, paired devices) and a workspace file.
    const OLD_DB = 'SQLite format 3\0 written by 2026.9.5: device dev-1 paired, session s-1';
    writeData(p, 'state/openclaw.sqlite', OLD_DB);
    writeData(p, 'workspace/MEMORY.md', '# remembered\n');
    const machineBefore = p.fake.machines(APP)[0]!;
    const imageBefore = (machineBefore as unknown as { image_ref: unknown }).image_ref;

    const up = await cli(p, ['upgrade', '--to', 'openclaw@2026.9.6', '--yes', '--json']);
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ ok: true, from: { runtime: 'openclaw@2026.9.5' }, to: { runtime: 'openclaw@2026.9.6' } });
    expect(readData(p, 'state/openclaw.sqlite')).toBe(OLD_DB);
    // 2026.9.6 migrates its store in place (the double runs no real gateway: do what it would).
    writeData(p, 'state/openclaw.sqlite', 'SQLite format 3\0 migrated by 2026.9.6');
    writeData(p, 'state/openclaw.sqlite-wal', 'wal of 2026.9.6');

    const back = await cli(p, ['rollback', '--yes', '--json']);
    expect(back.code, back.stderr).toBe(0);
    expect((p.fake.machines(APP)[0] as unknown as { image_ref: unknown }).image_ref).toEqual(imageBefore);
    expect(JSON.parse(readFileSync(join(p.dir, '.clawdfly', 'answers.json'), 'utf8')).runtime).toBe('openclaw@2026.9.5');
    // 2026.9.5's own store is back, and stays after its verification: nothing of it was removed.
    expect(readData(p, 'state/openclaw.sqlite')).toBe(OLD_DB);
    expect(readData(p, 'state/openclaw.sqlite-wal')).toBeUndefined();
    expect(readData(p, 'workspace/MEMORY.md')).toBe('# remembered\n');
    // 2026.9.6's files were set aside and then removed (the rollback's backup holds them).
    expect(readdirSync(dataPath(p, '.')).filter((n) => n.startsWith('.clawdfly-'))).toEqual([]);

    for (const out of ALL_OUTPUT) for (const secret of allSecretValues()) expect(out).not.toContain(secret);
  }, 400_000);

  it("upgrade's go/no-go waits for /readyz: a 2026.9.6 that logs ready but never answers ready is rolled back by itself", async () => {
    const p = await newProject({ initFlags: ['--runtime', 'openclaw@2026.9.5'] });
    scriptReadyz([]);
    expect((await p.deploy(['--yes', '--json'])).code).toBe(0);
    const imageBefore = (p.fake.machines(APP)[0] as unknown as { image_ref: unknown }).image_ref;
    // the new gateway logs "[gateway] ready" (the double) but its /readyz keeps answering 503; 2026.9.5's answers 200
    const runsBefore = () => JSON.stringify((p.fake.machines(APP)[0] as unknown as { image_ref: unknown }).image_ref) === JSON.stringify(imageBefore);
    scriptReadyz(() => (runsBefore() ? OPENCLAW_HEALTH.afterReady['/readyz']! : OPENCLAW_HEALTH.afterListening['/readyz']!));
    // /readyz never says ready: the whole verification window passes (a short one, the test-only knob; --verify-timeout's least is 10 s)
    const up = await cli(p, ['upgrade', '--to', 'openclaw@2026.9.6', '--yes'], { CLAWDFLY_VERIFY_TIMEOUT_MS: '5000' });
    expect(up.code, up.stderr).toBe(1);
    expect(readyzHits).toBeGreaterThan(1);
    expect(up.stderr).toContain('did not finish its start (startup-sidecars)');
    expect(up.stderr, up.stderr).toContain('rolled back automatically');
    expect((p.fake.machines(APP)[0] as unknown as { image_ref: unknown }).image_ref).toEqual(imageBefore);
    expect(JSON.parse(readFileSync(join(p.dir, '.clawdfly', 'answers.json'), 'utf8')).runtime).toBe('openclaw@2026.9.5');
    scriptReadyz([]);
  }, 400_000);
});
