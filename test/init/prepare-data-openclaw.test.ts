/**
 * The entrypoint's volume preparation as `init --runtime openclaw` renders it, run with Node on a
 * temp folder as the volume: openclaw keeps its lock dirs under `<state>/tmp/openclaw-<uid>/`
 * whatever TMPDIR says (measured on 2026.9.6), so a lock whose owner is gone is removed from there
 * (`gateway.<8 hex>.lock` and `gateway.state.lock`), one whose owner is alive is kept, and the
 * gateway's `.lock.sqlite` siblings are not touched.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '../helpers/cli.js';
import { freshDir, init } from './util.js';

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('prepare-data.mjs for openclaw', () => {
  it('removes stale locks under <state>/tmp/openclaw-<uid>/ and keeps a live one', async () => {
    const dir = freshDir();
    const r = await init(['--yes', '--runtime', 'openclaw', '--dir', dir, '--app', 'prep-openclaw'], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY } });
    expect(r.code, r.stderr).toBe(0);

    const volume = mkdtempSync(join(tmpdir(), 'clawdfly-prep-'));
    const otherTmp = mkdtempSync(join(tmpdir(), 'clawdfly-prep-tmp-'));
    const lockDir = join(volume, 'tmp', `openclaw-${process.getuid!()}`);
    mkdirSync(lockDir, { recursive: true });
    const lock = (pid: number) => JSON.stringify({ pid, createdAt: new Date().toISOString(), configPath: join(volume, 'openclaw.json'), stateDir: volume, port: 3000 }, null, 2) + '\n\t \t';
    const dead = deadPid();
    writeFileSync(join(lockDir, 'gateway.0a1b2c3d.lock'), lock(dead));
    writeFileSync(join(lockDir, 'gateway.state.lock'), lock(dead));
    writeFileSync(join(lockDir, 'gateway.0a1b2c3d.lock.sqlite'), '');
    writeFileSync(join(lockDir, 'gateway.9f8e7d6c.lock'), lock(process.pid));

    // TMPDIR elsewhere: the lock dir is found through the state dir, not through TMPDIR.
    const run = spawnSync(process.execPath, [join(dir, 'runtime', 'prepare-data.mjs'), '0'], {
      env: { PATH: process.env['PATH'], OPENCLAW_STATE_DIR: volume, TMPDIR: otherTmp },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(existsSync(join(lockDir, 'gateway.0a1b2c3d.lock'))).toBe(false);
    expect(existsSync(join(lockDir, 'gateway.state.lock'))).toBe(false);
    expect(existsSync(join(lockDir, 'gateway.0a1b2c3d.lock.sqlite'))).toBe(true);
    expect(existsSync(join(lockDir, 'gateway.9f8e7d6c.lock'))).toBe(true);
    expect(run.stdout).toContain(`removed stale gateway lock ${join(lockDir, 'gateway.0a1b2c3d.lock')}: pid ${dead} is not running`);
    expect(run.stdout).toContain(`kept gateway lock ${join(lockDir, 'gateway.9f8e7d6c.lock')}: pid ${process.pid} is alive`);
  });
});
