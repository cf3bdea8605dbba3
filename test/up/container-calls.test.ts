/**
 * `clawdfly up --local --engine podman` against a recording fake podman on PATH
 * (test/up/fake-engine/podman): which engine calls a first and a second run make. The second run
 * of an unchanged project must reuse the image — no `podman build`, not even the cached-layer pass,
 * which on vfs costs a minute — although the first run left state in .clawdfly/local-data and a
 * log file and an npm install in runtime/ (none of them part of the build context).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initProject, ROOT } from '../helpers/cli.js';
import { freePort } from '../support/podman.js';

const FAKE_BIN = join(ROOT, 'test', 'up', 'fake-engine');
const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

interface UpRun {
  code: number | null;
  stdout: string;
  stderr: string;
  calls: string[][];
}

/** One `up --local` until the Control UI line, then Ctrl-C; the engine calls it made. */
async function upOnce(dir: string, engineDir: string, extra: string[] = []): Promise<UpRun> {
  writeFileSync(join(engineDir, 'calls.jsonl'), '');
  const port = await freePort();
  const env = {
    ...process.env,
    NO_COLOR: '1',
    CI: 'true',
    PATH: `${FAKE_BIN}:${dirname(process.execPath)}`,
    FAKE_ENGINE_DIR: engineDir,
    XDG_CACHE_HOME: join(engineDir, 'xdg'),
  };
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'clawdfly.js'), 'up', '--local', '--dir', dir, '--engine', 'podman', '--port', String(port), ...extra], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  const deadline = Date.now() + 60_000;
  while (!/Control UI: http:\/\/127\.0\.0\.1:\d+\//.test(stdout)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`no Control UI line\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGINT');
  const code = await exited;
  const calls = readFileSync(join(engineDir, 'calls.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);
  return { code, stdout, stderr, calls };
}

const verbs = (calls: string[][]) => calls.map((c) => (['image', 'container'].includes(c[0]!) ? `${c[0]} ${c[1]}` : c[0]!));

describe('up --local with a container engine: the second run reuses the image', () => {
  it('builds once, then starts from the existing image with no build at all', async () => {
    const dir = await initProject();
    made.push(dirname(dir));
    const engineDir = mkdtempSync(join(tmpdir(), 'clawdfly-fake-engine-'));
    made.push(engineDir);

    const first = await upOnce(dir, engineDir);
    expect(first.code, first.stderr).toBe(0);
    expect(verbs(first.calls).filter((v) => v === 'build')).toHaveLength(1);
    // A first run shows the build's progress with the elapsed time, also without --verbose.
    expect(first.stdout + first.stderr).toMatch(/STEP 1\/2: FROM node:22-bookworm-slim \(\d+\.\d s\)/);
    expect(first.stdout).toMatch(/Gateway listening after [\d.]+ s \([\d.]+ s since the command started\)/);

    // What a run leaves behind, none of it in the build context (.dockerignore):
    mkdirSync(join(dir, '.clawdfly', 'local-data', 'tmp', 'jiti'), { recursive: true });
    writeFileSync(join(dir, '.clawdfly', 'local-data', 'tmp', 'jiti', 'cache.json'), '{}');
    mkdirSync(join(dir, 'runtime', 'node_modules', 'left-pad'), { recursive: true });
    writeFileSync(join(dir, 'runtime', 'node_modules', 'left-pad', 'index.js'), '');
    writeFileSync(join(dir, 'npm-debug.log'), 'noise\n');
    // fly.toml is run-time configuration (the port, memory, [env]): the Dockerfile does not copy it.
    writeFileSync(join(dir, 'fly.toml'), readFileSync(join(dir, 'fly.toml'), 'utf8') + '\n# a note\n');

    const second = await upOnce(dir, engineDir, ['--verbose']);
    expect(second.code, second.stderr).toBe(0);
    const used = verbs(second.calls);
    expect(used).not.toContain('build');
    expect(used).toContain('image inspect');
    expect(used.filter((v) => v === 'create')).toHaveLength(1);
    // The phases, with their times, under --verbose.
    expect(second.stderr).toMatch(/phases: startup [\d.]+ s · engine probe [\d.]+ s · image check [\d.]+ s · state folder [\d.]+ s · container start [\d.]+ s · gateway boot [\d.]+ s/);
    // A real change to the context does rebuild.
    writeFileSync(join(dir, 'runtime', 'entrypoint.sh'), readFileSync(join(dir, 'runtime', 'entrypoint.sh'), 'utf8') + '\n# edited\n');
    const third = await upOnce(dir, engineDir);
    expect(third.code, third.stderr).toBe(0);
    expect(verbs(third.calls).filter((v) => v === 'build')).toHaveLength(1);
  }, 120_000);
});
