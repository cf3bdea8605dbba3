/**
 * `clawdfly up --local` engine selection and the pieces that need no gateway: which engine is
 * chosen from what was asked and found, podman's host-specific fixes recognised from its real
 * error text (shared/reference/local-image.md), the [processes] command split like flyctl, state
 * paths moved between the Fly volume and the local folder, and refusals through the real binary
 * with stand-in `podman` / `docker` / `node` programs on PATH.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  applyPodmanFixes,
  chooseEngine,
  CONTAINERS_CONF_TEXT,
  DEFAULT_PODMAN_SETTINGS,
  loadPodmanSettings,
  podmanEnv,
  podmanFixesFor,
  probeEngines,
  savePodmanSettings,
  type EngineProbe,
} from '../../src/local/engine.js';
import { splitCommand } from '../../src/local/container.js';
import { remapConfigPaths, remapStatePath, withEnvFile } from '../../src/local/prepare.js';
import { flyTomlFacts } from '../../src/project/render.js';
import { UsageError } from '../../src/errors.js';
import { initProject, ROOT, runCli, tempDir } from '../helpers/cli.js';

const none = { works: false };
const probe = (p: Partial<EngineProbe>): EngineProbe => ({ podman: none, docker: none, ...p });
const podmanOk = { path: '/usr/bin/podman', works: true };
const dockerOk = { path: '/usr/bin/docker', works: true };
const dockerNoDaemon = { path: '/usr/local/bin/docker', works: false, detail: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' };

function refusal(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('chooseEngine', () => {
  it('auto prefers podman, then a docker whose daemon answers, then Node on the host', () => {
    expect(chooseEngine('auto', probe({ podman: podmanOk, docker: dockerOk })).kind).toBe('podman');
    expect(chooseEngine('auto', probe({ docker: dockerOk }))).toMatchObject({ kind: 'docker', path: '/usr/bin/docker' });
    const fallback = chooseEngine('auto', probe({ docker: dockerNoDaemon }));
    expect(fallback.kind).toBe('node');
    // --verbose explains every engine it passed over
    expect(fallback.reasons.join('\n')).toMatch(/podman: not found on PATH/);
    expect(fallback.reasons.join('\n')).toMatch(/docker: \/usr\/local\/bin\/docker does not answer \(Cannot connect to the Docker daemon/);
  });

  it('--node means the host, and refuses to be combined with a container engine', () => {
    expect(chooseEngine('auto', probe({ podman: podmanOk }), { nodeGiven: true }).kind).toBe('node');
    expect(chooseEngine('node', probe({ podman: podmanOk })).kind).toBe('node');
    const e = refusal(() => chooseEngine('podman', probe({ podman: podmanOk }), { nodeGiven: true }));
    expect(e.message).toMatch(/--node only applies to the host engine/);
    expect(e.exitCode).toBe(2);
  });

  it('an engine asked for by name must exist and answer', () => {
    expect(chooseEngine('docker', probe({ podman: podmanOk, docker: dockerOk })).kind).toBe('docker');
    expect(refusal(() => chooseEngine('podman', probe({ docker: dockerOk }))).message).toMatch(/podman is not installed/);
    const down = refusal(() => chooseEngine('docker', probe({ docker: dockerNoDaemon })));
    expect(down.message).toMatch(/docker is installed but does not answer: Cannot connect to the Docker daemon/);
    expect(down.hint).toMatch(/--engine podman\|node/);
    expect(refusal(() => chooseEngine('kubernetes' as never, probe({}))).message).toMatch(/unknown engine "kubernetes"/);
  });
});

describe('podman fixes from its own error text', () => {
  // Verbatim from this host (podman 4.3.1 + runc) and from local-image.md (crun).
  const RLIMIT = 'Error: runc: runc create failed: unable to start container process: error during container init: error setting rlimits for ready process: error setting rlimit type 7: operation not permitted: OCI permission denied';
  const CRUN_RLIMIT = 'Error: crun: setrlimit RLIMIT_NOFILE: Operation not permitted: OCI permission denied';
  const HYBRID = 'Error: crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2: OCI runtime error';

  it('hybrid cgroups → runc + cgroupfs (only when runc exists); rlimits → no default ulimits', () => {
    expect(podmanFixesFor(HYBRID, DEFAULT_PODMAN_SETTINGS, { runcAvailable: true }).map((f) => f.id)).toEqual(['runc-cgroupfs']);
    expect(podmanFixesFor(HYBRID, DEFAULT_PODMAN_SETTINGS, { runcAvailable: false })).toEqual([]);
    expect(podmanFixesFor(RLIMIT, DEFAULT_PODMAN_SETTINGS, { runcAvailable: true }).map((f) => f.id)).toEqual(['no-default-ulimits']);
    expect(podmanFixesFor(CRUN_RLIMIT, DEFAULT_PODMAN_SETTINGS, { runcAvailable: true }).map((f) => f.id)).toEqual(['no-default-ulimits']);
    expect(podmanFixesFor('Error: no such image', DEFAULT_PODMAN_SETTINGS, { runcAvailable: true })).toEqual([]);
  });

  it('fixes accumulate (crun first fails on cgroups, then runc on rlimits) and are not applied twice', () => {
    let s = applyPodmanFixes(DEFAULT_PODMAN_SETTINGS, podmanFixesFor(HYBRID, DEFAULT_PODMAN_SETTINGS, { runcAvailable: true }));
    expect(s.flags).toEqual(['--runtime', 'runc', '--cgroup-manager', 'cgroupfs']);
    expect(podmanFixesFor(HYBRID, s, { runcAvailable: true })).toEqual([]);
    s = applyPodmanFixes(s, podmanFixesFor(RLIMIT, s, { runcAvailable: true }));
    expect(s.noDefaultUlimits).toBe(true);
    expect(s.why).toHaveLength(2);
    expect(podmanFixesFor(RLIMIT, s, { runcAvailable: true })).toEqual([]);
  });

  it('remembers what worked per podman binary, and writes the containers.conf it points CONTAINERS_CONF at', async () => {
    const cache = tempDir('clawdfly-up-cache-');
    const env = { ...process.env, XDG_CACHE_HOME: cache };
    expect(loadPodmanSettings('/usr/bin/podman@4.3.1#uid0', env)).toEqual(DEFAULT_PODMAN_SETTINGS);
    const s = applyPodmanFixes(DEFAULT_PODMAN_SETTINGS, podmanFixesFor('error setting rlimit type 7: operation not permitted', DEFAULT_PODMAN_SETTINGS, { runcAvailable: true }));
    await savePodmanSettings('/usr/bin/podman@4.3.1#uid0', s, env);
    expect(loadPodmanSettings('/usr/bin/podman@4.3.1#uid0', env)).toEqual(s);
    expect(loadPodmanSettings('/usr/bin/podman@5.0.0#uid0', env)).toEqual(DEFAULT_PODMAN_SETTINGS);
    const penv = await podmanEnv(s, env);
    expect(penv['CONTAINERS_CONF']).toBe(join(cache, 'clawdfly', 'containers.conf'));
    expect(readFileSync(penv['CONTAINERS_CONF']!, 'utf8')).toBe(CONTAINERS_CONF_TEXT);
    expect(CONTAINERS_CONF_TEXT).toMatch(/^default_ulimits = \[\]$/m);
    expect((await podmanEnv(DEFAULT_PODMAN_SETTINGS, env))['CONTAINERS_CONF']).toBeUndefined();
  });
});

describe('probeEngines with stand-in binaries', () => {
  function fakeBin(scripts: Record<string, string>): string {
    const dir = tempDir('clawdfly-up-bin-');
    for (const [name, body] of Object.entries(scripts)) {
      writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(dir, name), 0o755);
    }
    return dir;
  }

  it('a docker client without a daemon does not count; a podman that answers does', async () => {
    const bin = fakeBin({
      docker: 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1',
      podman: 'echo 4.3.1',
    });
    const p = await probeEngines({ PATH: bin });
    expect(p.docker).toMatchObject({ path: join(bin, 'docker'), works: false });
    expect(p.docker.detail).toMatch(/Cannot connect to the Docker daemon/);
    expect(p.podman).toMatchObject({ path: join(bin, 'podman'), works: true });
    expect(chooseEngine('auto', p).kind).toBe('podman');
    const onlyDocker = await probeEngines({ PATH: fakeBin({ docker: 'echo 28.2.2' }) });
    expect(chooseEngine('auto', onlyDocker).kind).toBe('docker');
  });
});

describe('pure helpers', () => {
  it('splits the generated [processes] command like flyctl does', () => {
    const facts = flyTomlFacts(readFileSync(join(ROOT, 'test/golden/defaults/fly.toml'), 'utf8'));
    expect(splitCommand(facts.processCommand!)).toEqual(['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', '3000', '--bind', 'lan']);
    expect(splitCommand(`node 'a b' "c \\"d\\"" e\\ f`)).toEqual(['node', 'a b', 'c "d"', 'e f']);
    expect(() => splitCommand(`node 'oops`)).toThrow(/unterminated quote/);
  });

  it('moves state paths between the volume and the local folder, and nothing else', () => {
    expect(remapStatePath('/data', '/data', '/p/.clawdfly/local-data')).toBe('/p/.clawdfly/local-data');
    expect(remapStatePath('/data/workspace', '/data', '/l')).toBe('/l/workspace');
    expect(remapStatePath('/database', '/data', '/l')).toBe('/database');
    const config = { agents: { defaults: { workspace: '/data/workspace', model: { primary: 'anthropic/claude-opus-4-5' } }, list: [{ id: 'main', workspace: '/data/ws2' }] }, gateway: { mode: 'local' } };
    const r = remapConfigPaths(config, '/data', '/l');
    expect(r.changed).toEqual(['agents.defaults.workspace', 'agents.list.0.workspace']);
    expect(r.value).toEqual({ agents: { defaults: { workspace: '/l/workspace', model: { primary: 'anthropic/claude-opus-4-5' } }, list: [{ id: 'main', workspace: '/l/ws2' }] }, gateway: { mode: 'local' } });
  });

  it('the env-file is 0600 in a private folder, holds no multi-line value, and is gone afterwards', async () => {
    let seen = '';
    const byName = await withEnvFile({ A: 'one', B: 'two\nlines' }, async (file, multi) => {
      seen = file;
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8')).toBe('A=one\n');
      return multi;
    });
    expect(byName).toEqual({ B: 'two\nlines' });
    expect(existsSync(seen)).toBe(false);
  });
});

describe('refusals through the real binary (exit 2, nothing written)', () => {
  function bin(scripts: Record<string, string>): string {
    const dir = tempDir('clawdfly-up-path-');
    mkdirSync(dir, { recursive: true });
    for (const [name, body] of Object.entries(scripts)) {
      writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(dir, name), 0o755);
    }
    return dir;
  }

  it('auto with no working engine and an old node on PATH explains both', async () => {
    const dir = await initProject();
    const path = bin({
      docker: 'echo "Cannot connect to the Docker daemon" >&2; exit 1',
      node: `[ "$1" = "-p" ] && echo 20.11.1 && exit 0; exit 1`,
    });
    const r = await runCli(['up', '--local', '--dir', dir, '--verbose'], { env: { PATH: path } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Node 20\.11\.1 at .*\/node is too old for clawdbot@2026\.1\.24-3: it needs Node 22\.12\.0 or newer \(no working podman or docker was found\)/);
    expect(r.stderr).toMatch(/docker: .* does not answer \(Cannot connect to the Docker daemon\)/);
    expect(existsSync(join(dir, '.clawdfly', 'local-data'))).toBe(false);
    expect(existsSync(join(dir, '.clawdfly', 'local-runtime'))).toBe(false);
  });

  it('--engine docker without a daemon, and up without --local', async () => {
    const dir = await initProject();
    const path = bin({ docker: 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2; exit 1' });
    const r = await runCli(['up', '--local', '--dir', dir, '--engine', 'docker'], { env: { PATH: path } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/docker is installed but does not answer: Cannot connect to the Docker daemon/);
    const noLocal = await runCli(['up', '--dir', dir]);
    expect(noLocal.code).toBe(2);
    expect(noLocal.stderr).toMatch(/clawdfly up --dir \S+ --local/);
  });

  it('a port that is taken on 127.0.0.1 is refused before anything starts', async () => {
    const dir = await initProject();
    const { createServer } = await import('node:net');
    const server = createServer();
    const port = await new Promise<number>((res) => server.listen(0, '127.0.0.1', () => res((server.address() as { port: number }).port)));
    try {
      const r = await runCli(['up', '--local', '--dir', dir, '--node', process.execPath, '--port', String(port)], {});
      // The Node check comes first: Node 20 is refused before the port is looked at.
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/too old/);
      const fakeNode = bin({ node: `[ "$1" = "-p" ] && echo 22.12.0 && exit 0; exit 1` });
      const r2 = await runCli(['up', '--local', '--dir', dir, '--node', join(fakeNode, 'node'), '--port', String(port)], {});
      expect(r2.code).toBe(2);
      expect(r2.stderr).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      expect(existsSync(join(dir, '.clawdfly', 'local-runtime'))).toBe(false);
    } finally {
      server.close();
    }
  });
});
