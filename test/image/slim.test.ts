/**
 * The slim image (the npm ci layer pruned by the build platform): what was removed is really gone,
 * and the real gateway does not miss it. It boots to its listening line with no missing-module
 * error, its memory commands load (memory search is on by default), and node-llama-cpp still loads
 * the build the image kept for this CPU (local embeddings).
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
}, 2 * MIN);

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
  });

  it('the gateway boots with no missing-module error in its log', async () => {
    const logs = await m!.logs();
    expect(logs).toMatch(LISTENING);
    expect(logs).not.toMatch(MISSING_MODULE);
    expect((await fetch(`${m!.url}/`)).status).toBe(200);
  });

  it('memory search runs (its modules load; no remote embeddings here) and node-llama-cpp loads the kept CPU build', async () => {
    const status = await inGateway('node dist/index.js memory status --json');
    expect(status.out).not.toMatch(MISSING_MODULE);
    expect(status.code, status.out).toBe(0);
    const search = await inGateway('node dist/index.js memory search "slim image" --json');
    expect(search.out).not.toMatch(MISSING_MODULE);

    const llama = await inGateway(
      `node --input-type=module -e "const { getLlama } = await import('node-llama-cpp'); const llama = await getLlama({ gpu: false, build: 'never', progressLogs: false }); console.log(JSON.stringify({ gpu: llama.gpu, cpu: llama.cpuMathCores > 0 })); await llama.dispose();"`,
    );
    expect(llama.out).not.toMatch(MISSING_MODULE);
    expect(llama.code, llama.out).toBe(0);
    expect(llama.out).toContain('{"gpu":false,"cpu":true}');
  }, 5 * MIN);
});
