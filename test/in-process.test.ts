/**
 * The in-process runners give what the real processes give: the same exit code, stdout and stderr
 * from runCliInProcess (src/cli.ts runCli(argv, io)) as from bin/clawdfly.js, and the same output,
 * exit codes and recorded invocations from the double's execute() in this process as from
 * bin/flyctl. Tests that run in-process rely on this; a divergence fails here first.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM without types
import { runFakeflyInProcess, runsInProcess } from './fakefly/lib/in-process.mjs';
import { initProject, ROOT, runCli, runCliInProcess, tempDir } from './helpers/cli.js';

describe('runCliInProcess = bin/clawdfly.js', () => {
  const dir = join(tempDir(), 'gateway');
  const cases: [string, string[]][] = [
    ['--version', ['--version']],
    ['--help of a command', ['deploy', '--help']],
    ['--help (bin/clawdfly.js prints the page the build rendered)', ['--help']],
    ['an unknown command (commander, exit 2)', ['deplyo']],
    ['a refused input (exit 2, one line and the fix)', ['init', '--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'Bad_Name']],
    ['a refusal in --json', ['init', '--yes', '--runtime', 'clawdbot', '--json', '--dir', dir, '--memory', '100']],
    ['doctor --offline on a folder without a project', ['doctor', '--offline', '--dir', dir]],
  ];
  for (const [what, args] of cases) {
    it(what, async () => {
      const inProcess = await runCliInProcess(args);
      const real = await runCli(args);
      expect({ code: inProcess.code, stdout: inProcess.stdout, stderr: inProcess.stderr }).toEqual({ code: real.code, stdout: real.stdout, stderr: real.stderr });
    }, 60_000);
  }

  it('one run does not leak into the next: a Chinese run, then an English one, as two processes give', async () => {
    const project = await initProject(['--runtime', 'clawdbot']);
    const zh = ['doctor', '--offline', '--lang', 'zh-CN', '--dir', project];
    const en = ['doctor', '--offline', '--dir', project];
    const inProcess = [await runCliInProcess(zh), await runCliInProcess(en)];
    const real = [await runCli(zh), await runCli(en)];
    // how long gathering took is the only difference allowed
    const text = (r: { stdout: string; stderr: string }) => (r.stdout + r.stderr).replace(/\d+\.\d+ ?(s|秒)/g, '<t>');
    expect(inProcess.map(text)).toEqual(real.map(text));
    expect(real[0]!.stdout + real[0]!.stderr).not.toEqual(real[1]!.stdout + real[1]!.stderr);
  }, 60_000);

  it('leaves the environment and the working folder as it found them', async () => {
    const env = { ...process.env };
    const cwd = process.cwd();
    await runCliInProcess(['--version'], { env: { CLAWDFLY_SOMETHING: 'x' }, cwd: tmpdir() });
    expect(process.env).toEqual(env);
    expect(process.cwd()).toBe(cwd);
  });
});

describe("the double in-process = bin/flyctl", () => {
  const SEQUENCE: { argv: string[]; input?: string }[] = [
    { argv: ['version', '--json'] },
    { argv: ['auth', 'whoami', '--json'] },
    { argv: ['apps', 'create', 'par-claw', '--json'] },
    { argv: ['apps', 'create', 'par-claw'] },
    { argv: ['volumes', 'create', 'par_data', '-r', 'iad', '-s', '1', '-a', 'par-claw', '-y', '--json'] },
    { argv: ['secrets', 'import', '-a', 'par-claw', '--stage'], input: 'A="one"\nB=two # note\n' },
    { argv: ['secrets', 'list', '-a', 'par-claw', '--json'] },
    { argv: ['machine', 'list', '-a', 'par-claw', '--json'] },
    { argv: ['no-such-command'] },
    { argv: ['status', '-a', 'missing-app'] },
  ];
  const normalise = (text: string) => text.replace(/"(created_at|updated_at|CreatedAt|UpdatedAt|createdAt)": "[^"]*"/g, '"$1": "<t>"').replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<t>');

  it('the same output, exit codes and invocation records for the same calls', async () => {
    const real = mkdtempSync(join(tmpdir(), 'fakefly-real-'));
    const here = mkdtempSync(join(tmpdir(), 'fakefly-here-'));
    const bin = join(ROOT, 'test', 'fakefly', 'bin', 'flyctl');
    for (const { argv, input } of SEQUENCE) {
      expect(runsInProcess(argv, {})).toBe(true);
      const r = spawnSync(bin, argv, { env: { PATH: process.env['PATH'], FAKEFLY_STATE: real }, input: input ?? '', encoding: 'utf8', cwd: tmpdir() });
      const h = await runFakeflyInProcess(argv, { env: { PATH: process.env['PATH'], FAKEFLY_STATE: here }, input: input ?? '', cwd: tmpdir() });
      expect({ argv, code: h.exitCode, stdout: normalise(h.stdout), stderr: normalise(h.stderr) }).toEqual({ argv, code: r.status, stdout: normalise(r.stdout), stderr: normalise(r.stderr) });
    }
    const records = (dir: string) =>
      readFileSync(join(dir, 'invocations.jsonl'), 'utf8').trim().split('\n').map((line) => {
        const { argv, command, cwd, stdin, exitCode, flyEnv } = JSON.parse(line);
        return { argv, command, cwd, stdin, exitCode, flyEnv };
      });
    expect(records(here)).toEqual(records(real));
  }, 120_000);

  it('leaves ssh, logs, proxy and the podman backend to bin/flyctl', () => {
    expect(runsInProcess(['ssh', 'console', '-C', 'true'], {})).toBe(false);
    expect(runsInProcess(['logs', '--no-tail'], {})).toBe(false);
    expect(runsInProcess(['proxy', '3000'], {})).toBe(false);
    expect(runsInProcess(['status'], { FAKEFLY_BACKEND: 'podman' })).toBe(false);
  });
});
