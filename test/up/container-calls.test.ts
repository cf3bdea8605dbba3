/**
 * `clawdfly up --local --engine podman` against a recording fake podman on PATH
 * (test/up/fake-engine/podman): which engine calls a first and a second run make. The second run
 * of an unchanged project must reuse the image — no `podman build`, not even the cached-layer pass,
 * which on vfs costs a minute — although the first run left state in .clawdfly/local-data and a
 * log file and an npm install in runtime/ (none of them part of the build context).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
async function upOnce(dir: string, engineDir: string, port: number, extra: string[] = [], cacheName = 'xdg'): Promise<UpRun> {
  writeFileSync(join(engineDir, 'calls.jsonl'), '');
  const env = {
    ...process.env,
    NO_COLOR: '1',
    CI: 'true',
    PATH: `${FAKE_BIN}:${dirname(process.execPath)}`,
    FAKE_ENGINE_DIR: engineDir,
    // clawdfly's cache: the remembered podman settings and the key of the settings fingerprint.
    XDG_CACHE_HOME: join(engineDir, cacheName),
  };
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'clawdfly.js'), 'up', '--local', '--dir', dir, '--engine', 'podman', '--port', String(port), ...extra], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  // the moment the Control UI line is printed (each chunk checked as it arrives, no polling clock)
  const controlUi = /Control UI: http:\/\/127\.0\.0\.1:\d+\//;
  const printed = await new Promise<boolean>((res) => {
    const timer = setTimeout(() => res(false), 60_000);
    const done = (seen: boolean) => {
      clearTimeout(timer);
      res(seen);
    };
    child.stdout.on('data', () => controlUi.test(stdout) && done(true));
    child.on('close', () => done(controlUi.test(stdout)));
  });
  if (!printed) {
    child.kill('SIGKILL');
    throw new Error(`no Control UI line\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`);
  }
  child.kill('SIGINT');
  const code = await exited;
  const calls = readFileSync(join(engineDir, 'calls.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);
  return { code, stdout, stderr, calls };
}

const verbs = (calls: string[][]) => calls.map((c) => (['image', 'container'].includes(c[0]!) ? `${c[0]} ${c[1]}` : c[0]!));
const count = (calls: string[][], verb: string) => verbs(calls).filter((v) => v === verb).length;
/** The settings fingerprint the container was created with (from the recorded `create`). */
const fingerprintOf = (calls: string[][]): string | undefined =>
  calls
    .find((c) => c[0] === 'create')
    ?.find((a) => a.startsWith('clawdfly.settings='))
    ?.slice('clawdfly.settings='.length);

/** A fresh project and an empty fake engine. */
async function freshProject(): Promise<{ dir: string; engineDir: string; port: number }> {
  const dir = await initProject();
  made.push(dirname(dir));
  const engineDir = mkdtempSync(join(tmpdir(), 'clawdfly-fake-engine-'));
  made.push(engineDir);
  return { dir, engineDir, port: await freePort() };
}


describe('up --local with a container engine: the second run reuses the image and the container', () => {
  it('builds and creates once, then starts the kept container with no build and no create', async () => {
    const { dir, engineDir, port } = await freshProject();

    const first = await upOnce(dir, engineDir, port);
    expect(first.code, first.stderr).toBe(0);
    expect(count(first.calls, 'build')).toBe(1);
    expect(count(first.calls, 'create')).toBe(1);
    expect(count(first.calls, 'start')).toBe(1);
    // Ctrl-C stops the container and keeps it for the next run.
    expect(count(first.calls, 'rm')).toBe(0);
    expect(first.stdout).toMatch(/container clawdfly-local-\S+ kept, stopped, for a quick restart/);
    // A first run shows the build's progress with the elapsed time, also without --verbose.
    expect(first.stdout + first.stderr).toMatch(/STEP 1\/2: FROM node:22-bookworm-slim \(\d+\.\d s\)/);
    expect(first.stdout).toMatch(/Gateway listening after [\d.]+ s \([\d.]+ s since the command started\)/);
    // create and start (which spawn podman's conmon, whose `oom` marker lands in its working folder)
    // run in clawdfly's cache, never in the folder the user ran clawdfly from
    const cwds = readFileSync(join(engineDir, 'cwds.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as [string, string]);
    const spawnsConmon = cwds.filter(([verb]) => verb === 'create' || verb === 'start');
    expect(spawnsConmon.length).toBeGreaterThanOrEqual(2);
    for (const [, cwd] of spawnsConmon) expect(cwd).toBe(join(engineDir, 'xdg', 'clawdfly', 'engine'));

    // What a run leaves behind, none of it in the build context (.dockerignore):
    mkdirSync(join(dir, '.clawdfly', 'local-data', 'tmp', 'jiti'), { recursive: true });
    writeFileSync(join(dir, '.clawdfly', 'local-data', 'tmp', 'jiti', 'cache.json'), '{}');
    mkdirSync(join(dir, 'runtime', 'node_modules', 'left-pad'), { recursive: true });
    writeFileSync(join(dir, 'runtime', 'node_modules', 'left-pad', 'index.js'), '');
    writeFileSync(join(dir, 'npm-debug.log'), 'noise\n');
    // fly.toml is run-time configuration (the port, memory, [env]): the Dockerfile does not copy it,
    // and a comment changes no setting of the container either.
    writeFileSync(join(dir, 'fly.toml'), readFileSync(join(dir, 'fly.toml'), 'utf8') + '\n# a note\n');

    const second = await upOnce(dir, engineDir, port, ['--verbose']);
    expect(second.code, second.stderr).toBe(0);
    const used = verbs(second.calls);
    expect(used).toContain('image inspect');
    expect(used).not.toContain('build');
    expect(used).not.toContain('create');
    expect(used).not.toContain('run');
    expect(used).not.toContain('rm');
    expect(used).not.toContain('rmi');
    expect(count(second.calls, 'start')).toBe(1);
    // Only this run's log: the kept container's log also holds the first run's listening line.
    const logs = second.calls.find((c) => c[0] === 'logs')!;
    expect(logs).toContain('--since');
    expect(second.stdout.match(/\[gateway\] listening on/g)).toHaveLength(1);
    expect(second.stderr).toMatch(/started the kept container \S+ again/);
    // The phases, with their times, under --verbose.
    expect(second.stderr).toMatch(/phases: startup [\d.]+ s · engine probe [\d.]+ s · image check [\d.]+ s · state folder [\d.]+ s · container start [\d.]+ s · gateway boot [\d.]+ s/);
  }, 120_000);

  it('recreates the container when a secret, [env] or the port changed, and rebuilds only when the build context did', async () => {
    const { dir, engineDir, port } = await freshProject();
    const first = await upOnce(dir, engineDir, port);
    expect(first.code, first.stderr).toBe(0);
    const firstFingerprint = fingerprintOf(first.calls);
    expect(firstFingerprint).toMatch(/^[0-9a-f]{32}$/);

    // A changed secret: same image, new container. The old one is renamed out of the way and
    // removed only after the listening line (on vfs an `rm` takes a minute).
    const secretsFile = join(dir, '.clawdfly', 'secrets.env');
    const newSecret = 'test-extra-secret-6d1f3b8a0c2e';
    writeFileSync(secretsFile, readFileSync(secretsFile, 'utf8') + `EXTRA_TEST_SECRET=${newSecret}\n`);
    const afterSecret = await upOnce(dir, engineDir, port);
    expect(afterSecret.code, afterSecret.stderr).toBe(0);
    expect(count(afterSecret.calls, 'build')).toBe(0);
    expect(count(afterSecret.calls, 'create')).toBe(1);
    expect(count(afterSecret.calls, 'rename')).toBe(1);
    const secretVerbs = verbs(afterSecret.calls);
    expect(secretVerbs.indexOf('rename')).toBeLessThan(secretVerbs.indexOf('create'));
    expect(secretVerbs.lastIndexOf('rm')).toBeGreaterThan(secretVerbs.indexOf('logs'));
    expect(afterSecret.calls.find((c) => c[0] === 'rm')).toContain(afterSecret.calls.find((c) => c[0] === 'rename')![2]);
    const secretFingerprint = fingerprintOf(afterSecret.calls);
    expect(secretFingerprint).not.toBe(firstFingerprint);
    // The secret reaches the engine through the env-file only, and the label is keyed: it is not
    // a plain hash anyone could test guesses against.
    const argv = afterSecret.calls.map((c) => c.join(' ')).join('\n');
    expect(argv).not.toContain(newSecret);
    expect(existsSync(join(engineDir, 'xdg', 'clawdfly', 'local-settings.key'))).toBe(true);
    expect(statSync(join(engineDir, 'xdg', 'clawdfly', 'local-settings.key')).mode & 0o077).toBe(0);

    // Unchanged again: started as it is.
    const again = await upOnce(dir, engineDir, port);
    expect(verbs(again.calls).filter((v) => ['build', 'create', 'rm'].includes(v))).toEqual([]);
    expect(count(again.calls, 'start')).toBe(1);

    // Another host port: the port mapping is fixed at create time.
    const otherPort = await freePort();
    const afterPort = await upOnce(dir, engineDir, otherPort);
    expect(afterPort.code, afterPort.stderr).toBe(0);
    expect(count(afterPort.calls, 'build')).toBe(0);
    expect(count(afterPort.calls, 'create')).toBe(1);
    expect(afterPort.calls.find((c) => c[0] === 'create')).toContain(`127.0.0.1:${otherPort}:3000`);

    // A changed fly.toml [env] value: recreated, not rebuilt.
    writeFileSync(join(dir, 'fly.toml'), readFileSync(join(dir, 'fly.toml'), 'utf8').replace(/\[env\]\n/, '[env]\n  EXTRA_SETTING = "on"\n'));
    const afterEnv = await upOnce(dir, engineDir, otherPort);
    expect(afterEnv.code, afterEnv.stderr).toBe(0);
    expect(count(afterEnv.calls, 'build')).toBe(0);
    expect(count(afterEnv.calls, 'create')).toBe(1);

    // Without the local key (another cache) the same settings give another label: it is keyed.
    const otherKey = await upOnce(dir, engineDir, otherPort, [], 'other-xdg');
    expect(count(otherKey.calls, 'create')).toBe(1);
    expect(fingerprintOf(otherKey.calls)).not.toBe(fingerprintOf(afterEnv.calls));

    // A real change to the build context: one build, a new container on the new image, and the
    // replaced image removed only after the listening line.
    writeFileSync(join(dir, 'runtime', 'entrypoint.sh'), readFileSync(join(dir, 'runtime', 'entrypoint.sh'), 'utf8') + '\n# edited\n');
    const rebuilt = await upOnce(dir, engineDir, otherPort, [], 'other-xdg');
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const rebuiltVerbs = verbs(rebuilt.calls);
    expect(count(rebuilt.calls, 'build')).toBe(1);
    expect(count(rebuilt.calls, 'create')).toBe(1);
    expect(rebuiltVerbs.indexOf('rmi')).toBeGreaterThan(rebuiltVerbs.indexOf('logs'));
    // The replaced container first (it holds the old image), then the image.
    expect(rebuiltVerbs.lastIndexOf('rm')).toBeLessThan(rebuiltVerbs.indexOf('rmi'));
    // Nothing replaced is left behind.
    expect(readdirSync(engineDir).filter((f) => f.startsWith('container-'))).toEqual([]);
  }, 120_000);
});
