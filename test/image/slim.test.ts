/**
 * The slim image (the npm ci layer pruned by the build platform): what was removed is really gone,
 * and the real gateway does not miss it. It boots to its listening line with no missing-module
 * error, its memory commands load (memory search is on by default), and node-llama-cpp's addon for
 * this CPU, the one build the image kept, still loads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalProject, flyMachineOptions, removeCanonicalDirs, type CanonicalProject } from './project.js';
import { runMachine, type Machine } from '../support/podman.js';

const MIN = 60_000;
const LISTENING = /\[gateway\] listening on ws:\/\/0\.0\.0\.0:3000/;
const MISSING_MODULE = /Cannot find (?:module|package)|ERR_MODULE_NOT_FOUND|ERR_DLOPEN_FAILED/;
/** node's arch → the name of node-llama-cpp's prebuilt build for it. */
const LLAMA_BUILD = `linux-${process.arch === 'arm' ? 'armv7l' : process.arch}`;

let project: CanonicalProject;
let volume: string;
let m: Machine | undefined;

beforeAll(async () => {
  project = await canonicalProject();
  volume = mkdtempSync(join(tmpdir(), 'clawdfly-slim-vol-'));
  m = await runMachine(flyMachineOptions(project.dir, { image: project.image, volumeDir: volume, name: `slim-${process.pid}` }));
  await m.waitForLog(LISTENING, 6 * MIN);
}, 45 * MIN);

afterAll(async () => {
  await m?.remove().catch(() => undefined);
  if (volume) rmSync(volume, { recursive: true, force: true });
  removeCanonicalDirs();
}, 5 * MIN);

/** A command in the machine as the gateway's user, from the package dir (as fly.toml runs it). */
async function inGateway(script: string): Promise<{ code: number; out: string }> {
  const r = await m!.exec(['sh', '-c', `cd /app/node_modules/clawdbot && ${script}`], undefined, { user: 'node' });
  return { code: r.code, out: r.stdout + r.stderr };
}

describe('the slim image', () => {
  it(`keeps only node-llama-cpp's ${LLAMA_BUILD} build and no declarations or source maps outside the gateway`, async () => {
    expect((await inGateway('ls /app/node_modules/@node-llama-cpp')).out.trim().split('\n')).toEqual([LLAMA_BUILD]);
    const leftovers = await inGateway(`find /app/node_modules -path /app/node_modules/clawdbot -prune -o -type f \\( -name '*.d.ts' -o -name '*.js.map' \\) -print | head -5`);
    expect(leftovers.out.trim()).toBe('');
    // the gateway's own package is whole (its docs and skills are read at run time)
    expect((await inGateway('ls docs skills | head -1')).code).toBe(0);
  }, 5 * MIN);

  it('the gateway boots with no missing-module error in its log', async () => {
    const logs = await m!.logs();
    expect(logs).toMatch(LISTENING);
    expect(logs).not.toMatch(MISSING_MODULE);
    expect((await fetch(`${m!.url}/`)).status).toBe(200);
  }, 5 * MIN);

  it('memory status and search run (their modules load; no remote embeddings here) and the kept llama addon loads', async () => {
    const status = await inGateway('node dist/index.js memory status --json');
    expect(status.out).not.toMatch(MISSING_MODULE);
    expect(status.code, status.out).toBe(0);
    const search = await inGateway('node dist/index.js memory search "slim image" --json');
    expect(search.out).not.toMatch(MISSING_MODULE);

    // The native addon the image kept for this CPU loads (with its libllama/libggml beside it).
    // (node-llama-cpp's own getLlama() binding self-test fails with NoBinaryFoundError in this
    // image, pruned or not: measured on the unpruned image too, so it is not the prune's doing.)
    const addon = await inGateway(
      `node -e "require(process.argv[1]); console.log('addon loaded')" "$(find /app/node_modules/@node-llama-cpp/${LLAMA_BUILD} -name llama-addon.node | head -1)"`,
    );
    expect(addon.out).not.toMatch(MISSING_MODULE);
    expect(addon.code, addon.out).toBe(0);
    expect(addon.out).toContain('addon loaded');
  }, 5 * MIN);
});
