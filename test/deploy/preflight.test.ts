/**
 * deploy's pre-checks and doctor judge the project one way: every problem at once, with one fix
 * each, and the same verdict on the bind (the command's --bind, else the config's gateway.bind).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ALL_FAKES, mutations, newProject, stopAppServer } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(async () => {
  await stopAppServer();
  for (const fake of ALL_FAKES) fake.cleanup();
});

function editToml(dir: string, edit: (text: string) => string): void {
  const path = join(dir, 'fly.toml');
  writeFileSync(path, edit(readFileSync(path, 'utf8')));
}

describe('deploy and doctor agree on the project', () => {
  it('four problems are refused in one run, each with its fix, before any flyctl mutation', async () => {
    const p = await newProject();
    editToml(p.dir, (t) => t.replace(/^primary_region = .*$/m, '').replace(/memory = "2048mb"/, 'memory = "512mb"').replace(/internal_port = 3000/, 'internal_port = 8080'));
    writeFileSync(join(p.dir, 'clawdbot.json'), '{ "agents": { "defaults": { "nope": 1 } } }\n');
    const r = await p.deploy(['--yes']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('the project has 4 problems; nothing was changed on Fly');
    for (const cause of ['no primary_region', 'memory is 512 MB', 'internal_port (8080)', 'would be refused by the gateway']) expect(r.stderr).toContain(cause);
    expect(r.stderr.match(/→ /g)?.length).toBe(5); // one fix per problem, plus the closing hint
    expect(mutations(p.fake.invocations())).toEqual([]);
  }, 60_000);

  it('--bind lan removed from the command but kept in the config: both say it binds lan and needs the token', async () => {
    const p = await newProject();
    editToml(p.dir, (t) => t.replace(/^(\s*app = ".*) --bind lan"$/m, '$1"'));
    expect(readFileSync(join(p.dir, 'fly.toml'), 'utf8')).not.toMatch(/^\s*app = ".*--bind/m);
    const plan = await p.deploy(['--dry-run']);
    expect(plan.code, plan.stderr).toBe(0);
    const doctor = await runCli(['doctor', '--offline', '--json', '--dir', p.dir]);
    const checks = JSON.parse(doctor.stdout).checks as { id: string; status: string; summary: string }[];
    const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(byId['bind']).toMatchObject({ status: 'ok', summary: 'fly.toml binds lan' });
    expect(byId['auth-token-bind']!.summary).toContain('CLAWDBOT_GATEWAY_TOKEN is in .clawdfly/secrets.env');
  }, 60_000);

  it('a bind that is loopback everywhere: deploy refuses, doctor fails, with the same fix', async () => {
    const p = await newProject();
    editToml(p.dir, (t) => t.replace(/^(\s*app = ".*) --bind lan"$/m, '$1 --bind loopback"'));
    const r = await p.deploy(['--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('add --bind lan to [processes] app');
    const doctor = await runCli(['doctor', '--offline', '--json', '--dir', p.dir]);
    const bind = (JSON.parse(doctor.stdout).checks as { id: string; status: string; fix?: string }[]).find((c) => c.id === 'bind')!;
    expect(bind.status).toBe('fail');
    expect(bind.fix).toContain('add --bind lan to fly.toml [processes] app');
  }, 60_000);

  it('a state dir off the volume gets the same advice from deploy and doctor', async () => {
    const p = await newProject();
    editToml(p.dir, (t) => t.replace('CLAWDBOT_STATE_DIR = "/data"', 'CLAWDBOT_STATE_DIR = "/home/node/state"'));
    const r = await p.deploy(['--dry-run']);
    expect(r.code).toBe(2);
    const advice = 'fly.toml [env] CLAWDBOT_STATE_DIR = "/data" (the [mounts] destination)';
    expect(r.stderr).toContain(advice);
    const doctor = await runCli(['doctor', '--offline', '--json', '--dir', p.dir]);
    const state = (JSON.parse(doctor.stdout).checks as { id: string; status: string; fix?: string }[]).find((c) => c.id === 'state-dir')!;
    expect(state.status).toBe('fail');
    expect(state.fix).toContain(advice);
  }, 60_000);
});
