import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM without types
import { createFakeFly } from '../fakefly/control.mjs';
import { initProject, runCli } from '../helpers/cli.js';
import { check, cleanupAll, deployed, failing, type DoctorJson } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(cleanupAll);

describe('doctor --offline', () => {
  it('runs the static checks with no flyctl call at all', async () => {
    const dir = await initProject();
    const fake = createFakeFly();
    try {
      const r = await runCli(['doctor', '--offline', '--dir', dir, '--json'], { env: fake.env });
      expect(r.code, r.stderr).toBe(0);
      expect(fake.invocations()).toEqual([]);
      const json = JSON.parse(r.stdout) as DoctorJson;
      for (const id of ['flyctl', 'auth', 'lock']) expect(check(json, id).summary).toBe('skipped with --offline (needs flyctl)');
      for (const id of ['bind', 'port', 'memory', 'config', 'state-dir', 'workspace', 'crash-loop']) expect(check(json, id).status).toBe('ok');
      // Crashes live on Fly: offline, doctor must not claim there were none.
      expect(check(json, 'memory').summary).toContain('out-of-memory crashes not checked offline');
      expect(check(json, 'memory').summary).not.toContain('no OOM');
    } finally {
      fake.cleanup();
    }
  });

  it('finds fly.toml ↔ clawdbot.json ↔ runtime disagreements: port, bind, heap ≥ memory, state dir, invalid config', async () => {
    const dir = await initProject();
    const toml = join(dir, 'fly.toml');
    writeFileSync(toml, readFileSync(toml, 'utf8')
      .replace('--port 3000 --bind lan"', '--port 8080 --bind loopback"')
      .replace('--max-old-space-size=1536', '--max-old-space-size=2048')
      .replace('CLAWDBOT_STATE_DIR = "/data"', 'CLAWDBOT_STATE_DIR = "/root/.clawdbot"'));
    const cfg = join(dir, 'clawdbot.json');
    writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync(cfg, 'utf8')), foo: 1 }));
    const r = await runCli(['doctor', '--offline', '--dir', dir, '--json']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as DoctorJson;
    expect(failing(json).sort()).toEqual(['bind', 'config', 'memory', 'port', 'state-dir']);
    expect(check(json, 'port').summary).toContain('fly.toml internal_port 3000 ≠ gateway port 8080');
    expect(check(json, 'memory').summary).toContain('heap 2048 MB ≥ memory 2048 MB');
    expect(check(json, 'config').evidence.join('\n')).toContain('<root>: Unrecognized key: "foo"');
    expect(check(json, 'state-dir').summary).toContain('/root/.clawdbot is outside the volume (/data)');
  });

  it('refuses --offline --fix (exit 2, nothing done)', async () => {
    const dir = await initProject();
    const r = await runCli(['doctor', '--offline', '--fix', '--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--fix needs Fly');
  });
});

describe('doctor on an empty log buffer', () => {
  it('treats `fly logs --no-tail` hanging as "no lines" after --logs-timeout, and still reports', async () => {
    const d = await deployed({ noBootLogs: true });
    const r = await d.doctor(['--json', '--logs-timeout', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json!.probes['logs']).toMatchObject({ ok: true, timedOut: true, lines: 0 });
    expect(r.json!.probes['logs']!.ms).toBeGreaterThanOrEqual(2000);
    expect(failing(r.json)).toEqual([]);
  }, 240_000);
});
