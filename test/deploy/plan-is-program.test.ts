/**
 * The plan is the program: `deploy --dry-run --json` prints each step's flyctl argv (and the names
 * of the secrets it sends on stdin), and `deploy` then runs exactly those argv, as the flyctl
 * double records them — no call the plan did not print, no printed call with other arguments.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useInProcessCli } from '../helpers/cli.js';
import { ALL_FAKES, newProject, stopAppServer, verb, type Invocation, type Project } from './setup.js';
import { mayWrite } from '../support/fly-writes.mjs';

useInProcessCli();

afterAll(async () => {
  await stopAppServer();
  for (const fake of ALL_FAKES) fake.cleanup();
});

interface PrintedStep {
  id: string;
  action: string;
  argv: string[][];
  stdin?: string[];
}

const MUTATING = new Set(['create', 'set', 'deploy', 'release']);
/** The reads a deploy makes before it has a plan (flyctl version, auth, the five observations). */
const OBSERVE = new Set(['version', 'auth whoami', 'status', 'volumes list', 'secrets list', 'machines list', 'machine list', 'ips list']);

async function dryRun(p: Project): Promise<PrintedStep[]> {
  const mark = p.fake.invocations().length;
  const result = await p.deploy(['--dry-run', '--json']);
  expect(result.code, result.stderr + result.stdout).toBe(0);
  expect(p.since(mark).filter((i) => mayWrite(i))).toEqual([]);
  const steps = JSON.parse(result.stdout).steps as PrintedStep[];
  for (const step of steps) for (const argv of step.argv) expect(argv[0]).toBe('flyctl');
  return steps;
}

/** The printed argv without the binary, the machine a first deploy creates filled in. */
function planned(step: PrintedStep, machineId: string): string[][] {
  return step.argv.map((argv) => argv.slice(1).map((arg) => (arg === '<machine>' ? machineId : arg)));
}

const key = (argv: string[]) => JSON.stringify(argv);

async function applyAndCompare(p: Project, printed: PrintedStep[]): Promise<Invocation[]> {
  const mark = p.fake.invocations().length;
  const result = await p.deploy(['--yes', '--json']);
  expect(result.code, result.stderr + result.stdout).toBe(0);
  const calls = p.since(mark);
  const machineId = p.machineId();
  const byStep = Object.fromEntries(printed.map((s) => [s.id, s]));

  // every flyctl call after the observations is a printed argv, or the config write the config step announces
  const firstPlanned = calls.findIndex((c) => !OBSERVE.has(verb(c)));
  const planCalls = calls.slice(firstPlanned);
  const printedArgv = new Set(printed.filter((s) => s.action !== 'skip').flatMap((s) => planned(s, machineId)).map(key));
  const unplanned = planCalls.filter((c) => !printedArgv.has(key(c.argv)));
  expect(unplanned.every((c) => verb(c) === 'ssh console' && mayWrite(c)), `calls the plan did not print: ${unplanned.map((c) => c.argv.join(' ')).join('\n')}`).toBe(true);
  expect(unplanned.length).toBeLessThanOrEqual(1);

  // the mutations are exactly the mutating steps' argv, each run once
  const mutationsRun = calls.filter((c) => mayWrite(c) && verb(c) !== 'ssh console').map((c) => key(c.argv)).sort();
  const mutationsPrinted = printed.filter((s) => MUTATING.has(s.action)).flatMap((s) => planned(s, machineId)).map(key).sort();
  expect(mutationsRun).toEqual(mutationsPrinted);

  // the config step's read is the first ssh call, exactly as printed
  const firstSsh = calls.find((c) => verb(c) === 'ssh console');
  expect(firstSsh?.argv).toEqual(planned(byStep['config']!, machineId)[0]);

  // the secrets went on stdin, as the plan said (names only: the values never were in the plan)
  const importCall = calls.find((c) => verb(c) === 'secrets import');
  if (byStep['secrets']!.action === 'set') {
    expect(importCall?.stdin.hadData).toBe(true);
    for (const line of byStep['secrets']!.stdin!) expect(line).toMatch(/^[A-Z][A-Z0-9_]*=\*\*\*$/);
  } else {
    expect(importCall).toBeUndefined();
  }
  return calls;
}

describe('deploy: apply runs the plan --dry-run printed', () => {
  it('a first deploy: app, volume, secrets, deploy, the config read and the verifier reads, argv for argv', async () => {
    const p = await newProject({ initFlags: ['--runtime', 'openclaw'] });
    const printed = await dryRun(p);
    expect(printed.filter((s) => MUTATING.has(s.action)).map((s) => s.id)).toEqual(['app', 'volume', 'secrets', 'deploy']);
    const calls = await applyAndCompare(p, printed);
    expect(calls.some((c) => verb(c) === 'deploy')).toBe(true);
  }, 120_000);

  it('a later deploy with a changed secret and config: the secret, the deploy, then the config written after the printed read', async () => {
    const p = await newProject({ initFlags: ['--runtime', 'clawdbot'] });
    const first = await p.deploy(['--yes', '--json']);
    expect(first.code, first.stderr + first.stdout).toBe(0);

    const secretsFile = join(p.dir, '.clawdfly', 'secrets.env');
    const lines = readFileSync(secretsFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('ANTHROPIC_API_KEY='));
    writeFileSync(secretsFile, [...lines, 'ANTHROPIC_API_KEY="test-anthropic-plan-is-program-changed"'].join('\n') + '\n', { mode: 0o600 });
    const config = JSON.parse(readFileSync(p.localConfigPath, 'utf8'));
    config.agents.defaults.maxConcurrent = 2;
    writeFileSync(p.localConfigPath, JSON.stringify(config, null, 2) + '\n');

    const printed = await dryRun(p);
    const secrets = printed.find((s) => s.id === 'secrets')!;
    expect(secrets.action).toBe('set');
    expect(secrets.stdin).toEqual(['ANTHROPIC_API_KEY=***']);
    const calls = await applyAndCompare(p, printed);
    // the config differed: written once, after the read the plan printed
    expect(calls.filter((c) => verb(c) === 'ssh console' && mayWrite(c))).toHaveLength(1);
  }, 180_000);
});
