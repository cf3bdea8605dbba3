/**
 * A runtime with a validator command (openclaw) has every config write judged on the machine by
 * the gateway installed there, before the upload replaces the live file: `config push` (and every
 * other writer, which share pushConfigFile) sends the bytes, the machine runs
 * `node …/openclaw/dist/index.js config validate --json` with the config-path variable on the
 * upload, and a refusal leaves the live file, the backups and the state dir as they were.
 * The double's validator stand-in (machine-shims.mjs) answers in openclaw's shape with its own rule.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { APP, deployedProject, type Deployed } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const live: Deployed[] = [];
afterEach((ctx) => {
  for (const d of live.splice(0)) {
    if (ctx.task.result?.state === 'fail') console.error(`fakefly state kept: ${d.fake.dir}`);
    else d.fake.cleanup();
  }
});

interface ShimCall {
  argv: string[];
  /** For `config validate`: the file the config-path variable named (a host path in the machine root). */
  configPath?: string;
}
type FakeWithValidator = Deployed['fake'] & {
  setRejectedConfigKeys(app: string, machineId: string, keys: string[]): void;
  clawdbotCalls(): ShimCall[];
};

const fakeOf = (d: Deployed) => d.fake as FakeWithValidator;
const validatorCalls = (d: Deployed) => fakeOf(d).clawdbotCalls().filter((c) => c.argv.join(' ').includes('config validate'));

async function openclawProject(): Promise<{ d: Deployed; local: string; remote: string }> {
  const d = await deployedProject(['--runtime', 'openclaw']);
  live.push(d);
  const local = join(d.dir, 'openclaw.json');
  const remote = d.remotePath('/data/openclaw.json');
  // what a first deploy's config step leaves on the volume
  writeFileSync(remote, readFileSync(local, 'utf8'), { mode: 0o600 });
  return { d, local, remote };
}

function editConfig(file: string, edit: (c: Record<string, unknown>) => void): string {
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(config);
  const text = JSON.stringify(config, null, 2) + '\n';
  writeFileSync(file, text);
  return text;
}

/** Entries of the machine's /data and /data/tmp: no upload, scratch dir or backup may be left by a refusal. */
function stateListing(d: Deployed): string[] {
  const data = d.remotePath('/data');
  const tmp = join(data, 'tmp');
  return [...readdirSync(data), ...(existsSync(tmp) ? readdirSync(tmp).map((f) => `tmp/${f}`) : [])].sort();
}

describe('config writes judged by the machine’s own gateway (openclaw)', () => {
  it('a valid push is validated on the machine, on the upload (not the live file), then committed', async () => {
    const { d, local, remote } = await openclawProject();
    const text = editConfig(local, (c) => ((c['agents'] as { defaults: Record<string, unknown> }).defaults['maxConcurrent'] = 3));
    const r = await d.cli(['config', 'push', '--yes', '--wait', '0', '--no-restart']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(remote, 'utf8')).toBe(text);
    const calls = validatorCalls(d);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.argv.slice(-3)).toEqual(['config', 'validate', '--json']);
    expect(calls[0]!.argv.some((a) => a.endsWith('/node_modules/openclaw/dist/index.js'))).toBe(true);
    // the upload's mktemp name beside the live file, never the live file itself
    expect(calls[0]!.configPath).toMatch(/\/data\/\.openclaw\.json\.[A-Za-z0-9]{8}$/);
    expect(stateListing(d).filter((f) => !/^(openclaw\.json(\.\d{8}T\d+Z\.bak)?|tmp|workspace)$/.test(f))).toEqual([]);
  }, 90_000);

  it('a config the machine refuses: exit 1 with the gateway’s words, the live file and the state dir unchanged', async () => {
    const { d, local, remote } = await openclawProject();
    fakeOf(d).setRejectedConfigKeys(APP, d.machineId, ['experimental']);
    const before = readFileSync(remote, 'utf8');
    const listing = stateListing(d);
    editConfig(local, (c) => (c['experimental'] = { enabled: true }));
    const r = await d.cli(['config', 'push', '--yes', '--wait', '0', '--no-restart']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the machine's openclaw refused the config; /data/openclaw.json was not changed");
    expect(r.stderr).toContain('<root>: Unrecognized key: "experimental"');
    expect(readFileSync(remote, 'utf8')).toBe(before);
    expect(stateListing(d)).toEqual(listing);
    expect(validatorCalls(d)).toHaveLength(1);
    expect(d.fake.restarts(d.machineId)).toBe(0);
  }, 90_000);

  it('clawdbot has no validator command: its pushes run none on the machine', async () => {
    const d = await deployedProject();
    live.push(d);
    editConfig(d.localPath, (c) => ((c['agents'] as { defaults: Record<string, unknown> }).defaults['maxConcurrent'] = 3));
    const r = await d.cli(['config', 'push', '--yes', '--wait', '0', '--no-restart']);
    expect(r.code, r.stderr).toBe(0);
    expect(validatorCalls(d)).toEqual([]);
  }, 90_000);
});
