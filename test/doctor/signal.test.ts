/**
 * doctor's signal-data check: in the Signal variant, signal-cli's account must live on the volume.
 * The Dockerfile's wrapper pins `--config` there and the gateway must call the wrapper; either
 * change loses the link on the next restart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initProject, runCli } from '../helpers/cli.js';
import { check, type DoctorJson } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

async function doctorOffline(dir: string): Promise<{ code: number; json: DoctorJson }> {
  const r = await runCli(['doctor', '--offline', '--dir', dir, '--json']);
  return { code: r.code, json: JSON.parse(r.stdout) as DoctorJson };
}

function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  expect(text).toContain(from);
  writeFileSync(file, text.replace(from, to));
}

describe('doctor signal-data', () => {
  it('is skipped for a project without Signal', async () => {
    const { json } = await doctorOffline(await initProject());
    expect(check(json, 'signal-data')).toMatchObject({ status: 'skip', summary: 'not the Signal variant (init --signal)' });
  });

  it('passes for init --signal: the wrapper keeps the account in /data/signal-cli', async () => {
    const { json } = await doctorOffline(await initProject(['--signal']));
    expect(check(json, 'signal-data')).toMatchObject({ status: 'ok', summary: 'signal-cli keeps its account in /data/signal-cli, on the volume' });
  });

  it('fails when the wrapper points off the volume, naming the Dockerfile line to restore', async () => {
    const dir = await initProject(['--signal']);
    edit(join(dir, 'Dockerfile'), '--config /data/signal-cli "$@"', '--config /home/node/.signal "$@"');
    const { code, json } = await doctorOffline(dir);
    expect(code).toBe(1);
    const c = check(json, 'signal-data');
    expect(c.status).toBe('fail');
    expect(c.summary).toBe('a Signal link is lost on restart: signal-cli keeps its account in /home/node/.signal, outside the volume (/data)');
    expect(c.fix).toContain('--config /data/signal-cli "$@"');
  });

  it('fails when the gateway calls signal-cli itself instead of the wrapper', async () => {
    const dir = await initProject(['--signal']);
    edit(join(dir, 'clawdbot.json'), '"cliPath": "/usr/local/bin/signal-cli"', '"cliPath": "/opt/signal-cli-0.13.12/bin/signal-cli"');
    const { json } = await doctorOffline(dir);
    const c = check(json, 'signal-data');
    expect(c.status).toBe('fail');
    expect(c.summary).toMatch(/the gateway runs \/opt\/signal-cli-0\.13\.12\/bin\/signal-cli, not the wrapper/);
    expect(c.evidence).toEqual(['clawdbot.json: channels.signal.cliPath = "/opt/signal-cli-0.13.12/bin/signal-cli"']);
  });
});
