/**
 * `clawdfly up --local --engine podman` with the canonical project's real image (built once by
 * test/image/project.ts, shared with the image tests): the local Fly machine. Proves the podman
 * settings for this host are found from podman's own errors (or were remembered), that secrets
 * reach the container through an env-file that is gone afterwards (never podman's argv), that the
 * port is published on 127.0.0.1 only, GET / → 200, and that Ctrl-C stops it cleanly (exit 0) and
 * keeps the stopped container for a quick restart while the state stays in .clawdfly/local-data.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertNoSecrets, BIN, projectSecrets, TEST_SECRETS } from '../helpers/cli.js';
import { canonicalProject } from '../image/project.js';
import { ensurePodman, freePort, podman } from '../support/podman.js';
import { cachePath } from '../support/util.js';

const shellQuote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

const BOOT_MS = 10 * 60_000;

describe('clawdfly up --local in a container engine (real image, real gateway)', () => {
  let name = '';
  afterAll(async () => {
    // Only our own container, and only if the test failed half-way.
    if (name) await podman(['rm', '-f', name], { check: false, timeoutMs: 120_000 });
  });

  it('runs the image as the local Fly machine, on loopback, and stops on Ctrl-C', async () => {
    // podman (installed where missing: root + apt) or a working docker, as the image tests use.
    const engine = await ensurePodman();
    const { dir, image } = await canonicalProject();
    const port = await freePort();
    // A cache of our own: the first run on a machine finds the settings from podman's errors.
    // Every engine call goes through a recording shim first (same for podman and docker), so the
    // argv checks below do not depend on one engine's introspection (.Config.CreateCommand).
    const shimDir = mkdtempSync(join(tmpdir(), 'clawdfly-engine-shim-'));
    const argvLog = join(shimDir, 'argv.log');
    writeFileSync(join(shimDir, engine.kind), `#!/bin/sh\n{ for a in "$@"; do printf '%s\\t' "$a"; done; printf '\\n'; } >> ${shellQuote(argvLog)}\nexec ${shellQuote(engine.podman)} "$@"\n`, { mode: 0o755 });
    const env = { ...process.env, PATH: `${shimDir}:${process.env['PATH'] ?? ''}`, NO_COLOR: '1', CI: 'true', XDG_CACHE_HOME: cachePath('up-container-xdg') };
    const child = spawn(process.execPath, [BIN, 'up', '--local', '--dir', dir, '--engine', engine.kind, '--image', image, '--port', String(port), '--verbose'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    try {
      const deadline = Date.now() + BOOT_MS;
      while (!/Control UI: http:\/\/127\.0\.0\.1:\d+\//.test(stdout)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no Control UI line\n--- stdout ---\n${stdout.slice(-4000)}\n--- stderr ---\n${stderr.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      name = stdout.match(/Container (clawdfly-local-[\w.-]+)/)![1]!;
      expect(stdout).toContain(`Control UI: http://127.0.0.1:${port}/`);
      // Inside, the machine's own command (--bind lan); outside, only loopback.
      expect(stdout).toMatch(/\[gateway\] listening on ws:\/\/0\.0\.0\.0:3000/);
      if (engine.kind === 'podman') expect(stderr).toMatch(/failed with podman's default settings on this host|podman \(remembered for this host\)/);
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/Clawdbot Control/);

      const ports = await podman(['port', name], { check: false });
      expect(ports.stdout.trim()).toBe(`3000/tcp -> 127.0.0.1:${port}`);
      const user = await podman(['exec', name, 'id', '-u'], { check: false });
      expect(user.stdout.trim()).toBe('1000');
      // The env-file carried the secrets: no engine argv (as the shim recorded it) holds one, and the file is gone.
      const secrets = [...projectSecrets(dir), ...Object.values(TEST_SECRETS)];
      const calls = readFileSync(argvLog, 'utf8').split('\n').filter(Boolean).map((line) => line.split('\t').slice(0, -1));
      const created = calls.filter((argv) => argv.includes('--env-file') && (argv.includes('run') || argv.includes('create')));
      expect(created.length, calls.map((a) => a.join(' ')).join('\n')).toBeGreaterThan(0);
      assertNoSecrets(calls.map((a) => a.join(' ')).join('\n'), secrets, `${engine.kind} argv`);
      for (const argv of created) {
        const envFile = argv[argv.indexOf('--env-file') + 1]!;
        expect(envFile).toMatch(/clawdfly-env-/);
        expect(existsSync(envFile)).toBe(false);
      }

      console.log(`[up --local ${engine.kind}] container ready in ${stdout.match(/Container .*\(([\d.]+)s\)/)?.[1]} s, listening ${stdout.match(/Gateway listening after ([\d.]+) s/)?.[1]} s later`);
      const stopAt = Date.now();
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no exit 3 min after SIGINT\n${stderr.slice(-2000)}`)), 180_000))]);
      expect(code, stderr).toBe(0);
      console.log(`[up --local ${engine.kind}] Ctrl-C to exit (stop): ${((Date.now() - stopAt) / 1000).toFixed(1)} s`);
      expect(stdout).toMatch(/received SIGTERM; shutting down/);
      // Kept, stopped, for the next run (afterAll removes it: the image is shared with other suites).
      const left = await podman(['container', 'inspect', '--format', '{{.State.Running}}', name], { check: false });
      expect(left.stdout.trim()).toBe('false');
      expect(JSON.parse(readFileSync(join(dir, '.clawdfly', 'local-data', 'clawdbot.json'), 'utf8'))).toMatchObject({ gateway: { mode: 'local' }, agents: { defaults: { workspace: '/data/workspace' } } });
      assertNoSecrets(stdout + stderr, secrets, 'output of clawdfly up --local --engine podman');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30 * 60_000);
});
