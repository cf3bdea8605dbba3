/**
 * OpenClaw's own ready endpoint in deploy verification and doctor, against the flyctl double and a
 * stand-in for the app's URL that answers /healthz, /startupz and /readyz with what the real
 * openclaw 2026.9.6 answered (test/fixtures/openclaw-health/2026.9.6.json).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, TEST_SECRETS } from '../helpers/cli.js';
import { ALL_OUTPUT, allSecretValues, newProject, OPENCLAW_HEALTH, readyzHits, scriptReadyz, stopAppServer } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(stopAppServer);

const DISCORD = { initFlags: ['--runtime', 'openclaw', '--discord'], initEnv: { DISCORD_BOT_TOKEN: TEST_SECRETS.DISCORD_BOT_TOKEN } };
const starting = OPENCLAW_HEALTH.afterListening['/readyz']!;
const ready = OPENCLAW_HEALTH.afterReady['/readyz']!;
const discordFailing = OPENCLAW_HEALTH.channelFailing['/readyz']!;

describe('openclaw readiness (/readyz)', () => {
  it('deploy waits until /readyz answers 200 (503 "startup-sidecars" first), as the real gateway does after its listening line', async () => {
    const p = await newProject(DISCORD);
    scriptReadyz([starting, starting, starting, ready]);
    const r = await p.deploy(['--yes', '--json']);
    ALL_OUTPUT.push(r.stdout, r.stderr);
    expect(r.code, r.stderr).toBe(0);
    // asked until ready: three 503s, then the 200
    expect(readyzHits).toBeGreaterThanOrEqual(4);
  }, 240_000);

  it('a channel /readyz names as failing: deploy fails naming it, doctor names it with its fix', async () => {
    const p = await newProject({ ...DISCORD, fakeEnv: { CLAWDFLY_VERIFY_TIMEOUT_MS: '4000' } });
    scriptReadyz([discordFailing]);
    const r = await p.deploy(['--yes']);
    ALL_OUTPUT.push(r.stdout, r.stderr);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('channel discord is not ready');
    expect(r.stderr).toContain('failing ["discord"]');
    // deploy again with nothing to change: what /readyz says is reported at once, not waited out
    const steady = await p.deploy(['--yes']);
    ALL_OUTPUT.push(steady.stdout, steady.stderr);
    expect(steady.code, steady.stderr).toBe(0);
    expect(steady.stdout + steady.stderr).toContain('not ready (failing discord); clawdfly doctor names the fix');

    const doctor = await runCli(['doctor', '--json', '--dir', p.dir], { env: p.env, timeoutMs: 240_000 });
    ALL_OUTPUT.push(doctor.stdout, doctor.stderr);
    const checks = JSON.parse(doctor.stdout).checks as { id: string; status: string; summary: string; fix?: string; evidence?: string[] }[];
    const readyCheck = checks.find((c) => c.id === 'ready')!;
    expect(readyCheck).toMatchObject({ status: 'fail', summary: 'channel discord is not ready (the gateway says so on /readyz)' });
    expect(readyCheck.fix).toContain('DISCORD_BOT_TOKEN=');
    expect(readyCheck.evidence!.join('\n')).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/readyz → 503: failing \["discord"\]/);

    // once the gateway answers ready, doctor says so
    scriptReadyz([ready]);
    const again = await runCli(['doctor', '--json', '--dir', p.dir], { env: p.env, timeoutMs: 240_000 });
    ALL_OUTPUT.push(again.stdout, again.stderr);
    expect((JSON.parse(again.stdout).checks as { id: string; status: string }[]).find((c) => c.id === 'ready')).toMatchObject({ status: 'ok' });

    for (const out of ALL_OUTPUT) for (const secret of allSecretValues()) expect(out).not.toContain(secret);
  }, 300_000);
});
