/**
 * The slim OpenClaw image: the npm ci layer pruned by the runtime row's imagePrune (declarations,
 * source maps and TypeScript sources of its dependencies, which a file-access trace of the real
 * 2026.9.6 never opened: README "Image size"). What was removed is really gone, the gateway's own
 * package is whole, and the real gateway does not miss it: a first boot, a restart with a Telegram
 * channel configured (its channel code loads and starts; the token is fake, so it cannot log in),
 * `config validate`, `backup create` and `memory status` all run with no missing-module error.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flyMachineOptions, openclawProject, removeCanonicalDirs, type CanonicalProject } from './project.js';
import { runMachine, type Machine } from '../support/podman.js';
import { RUNTIMES } from '../../src/gateway/runtime.js';

const MIN = 60_000;
const OPENCLAW = RUNTIMES['openclaw@2026.9.6']!;
const PACKAGE_DIR = `/app/node_modules/${OPENCLAW.packageName}`;
const MISSING_MODULE = /Cannot find (?:module|package)|ERR_MODULE_NOT_FOUND|ERR_DLOPEN_FAILED/;
/** A syntactically valid bot token that Telegram will refuse (the machine has no route out anyway). */
const FAKE_TELEGRAM_TOKEN = '123456789:AAFakeFakeFakeFakeFakeFakeFakeFakeFa';

let project: CanonicalProject;
let volume: string;
let m: Machine | undefined;

beforeAll(async () => {
  project = await openclawProject();
  volume = mkdtempSync(join(tmpdir(), 'clawdfly-openclaw-slim-vol-'));
  m = await runMachine(
    flyMachineOptions(project.dir, { image: project.image, volumeDir: volume, name: `openclaw-slim-${process.pid}`, env: { TELEGRAM_BOT_TOKEN: FAKE_TELEGRAM_TOKEN } }),
  );
  await m.waitForLog(OPENCLAW.readyLine!, 8 * MIN);
}, 45 * MIN);

afterAll(async () => {
  await m?.remove().catch(() => undefined);
  if (volume) rmSync(volume, { recursive: true, force: true });
  removeCanonicalDirs();
}, 5 * MIN);

/** The gateway's CLI in the machine, as its user, from its package dir (as fly.toml runs it). */
async function gatewayCli(args: string): Promise<{ code: number; out: string }> {
  const r = await m!.exec(['sh', '-c', `cd ${PACKAGE_DIR} && node ${OPENCLAW.entry} ${args}`], undefined, { user: 'node' });
  return { code: r.code, out: r.stdout + r.stderr };
}

describe('the slim OpenClaw image', () => {
  it('has none of the pruned files outside the gateway, and the gateway package whole', async () => {
    const names = OPENCLAW.imagePrune.moreFileNames ?? [];
    expect(OPENCLAW.imagePrune.declarationsAndSourceMaps).toBe(true);
    expect(names.length).toBeGreaterThan(0);
    const tests = [...names, '*.d.ts', '*.js.map', '*.mjs.map'].map((n) => `-name '${n}'`).join(' -o ');
    const leftovers = await m!.exec(['sh', '-c', `find /app/node_modules -path ${PACKAGE_DIR} -prune -o -type f \\( ${tests} \\) -print | head -5`]);
    expect(leftovers.stdout.trim()).toBe('');
    // its own declarations (the plugin SDK's) and docs stay
    const own = await m!.exec(['sh', '-c', `find ${PACKAGE_DIR}/dist -name '*.d.ts' | head -1; ls ${PACKAGE_DIR}/docs | head -1`]);
    expect(own.stdout.trim().split('\n')).toHaveLength(2);
  }, 5 * MIN);

  it('the first boot reaches its ready line and /startupz with no missing-module error', async () => {
    expect(await m!.logs()).not.toMatch(MISSING_MODULE);
    expect((await fetch(`${m!.url}${OPENCLAW.health!.started}`)).status).toBe(200);
  }, 5 * MIN);

  it('config validate, backup create and memory status run', async () => {
    const validate = await gatewayCli('config validate --json');
    expect(validate.out).not.toMatch(MISSING_MODULE);
    expect(validate.code, validate.out).toBe(0);
    // (openclaw refuses an output inside the state dir it archives)
    const backup = await gatewayCli('backup create --verify --json --output /tmp');
    expect(backup.out).not.toMatch(MISSING_MODULE);
    expect(backup.code, backup.out).toBe(0);
    const memory = await gatewayCli('memory status --json');
    expect(memory.out).not.toMatch(MISSING_MODULE);
    expect(memory.code, memory.out).toBe(0);
  }, 10 * MIN);

  it('restarts with a Telegram channel and starts it (its channel code loads)', async () => {
    const configPath = join(volume, OPENCLAW.configFileName);
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    config.channels = { telegram: { enabled: true, dmPolicy: 'pairing', groupPolicy: 'allowlist' } };
    config.bindings = [{ agentId: 'main', match: { channel: 'telegram' } }];
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    // a Fly restart: a fresh container on the same volume, so its log holds only this boot
    await m!.restart();
    await m!.waitForLog(OPENCLAW.readyLine!, 8 * MIN);
    // measured on 2026.9.6: `[telegram] [default] starting provider`, then its (failing) Bot API calls
    await m!.waitForLog(/\[telegram\] \[default\] starting provider/, 3 * MIN);
    const logs = await m!.logs();
    expect(logs).not.toContain('(first boot)'); // the restarted boot's log, not the first one's
    expect(logs).not.toMatch(MISSING_MODULE);
    expect((await fetch(`${m!.url}${OPENCLAW.health!.started}`)).status).toBe(200);
  }, 15 * MIN);
});
