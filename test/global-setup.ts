/**
 * Suite-wide secret scan. Every flyctl double created in any test file registers its state dir,
 * and every CLI run registers the secret values it knew about; when the whole suite is done,
 * every recorded flyctl argv (and cwd) and every CLI run's stdout and stderr is scanned for every one
 * of those values. A hit fails the run.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_SECRETS } from './helpers/cli.js';

let runDir = '';

/**
 * Each vitest project (fast, image) runs this set-up; `npm test` runs both in one process, and
 * they must share one run dir and one scan at the very end: the last teardown scans.
 */
const shared = globalThis as typeof globalThis & { clawdflySuiteUsers?: number };

export function setup(): void {
  shared.clawdflySuiteUsers = (shared.clawdflySuiteUsers ?? 0) + 1;
  if (process.env['CLAWDFLY_TEST_RUN_DIR']) {
    runDir = process.env['CLAWDFLY_TEST_RUN_DIR'];
    return;
  }
  runDir = mkdtempSync(join(tmpdir(), 'clawdfly-suite-'));
  process.env['CLAWDFLY_TEST_RUN_DIR'] = runDir;
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

export function teardown(): void {
  shared.clawdflySuiteUsers = (shared.clawdflySuiteUsers ?? 1) - 1;
  if (shared.clawdflySuiteUsers > 0) return;
  runDir = process.env['CLAWDFLY_TEST_RUN_DIR'] ?? runDir;
  const secrets = new Set<string>([...Object.values(TEST_SECRETS), ...lines(join(runDir, 'secrets.jsonl')).map((l) => JSON.parse(l) as string)]);
  const states = new Set(lines(join(runDir, 'fakefly-states.txt')));
  let invocations = 0;
  const hits: string[] = [];
  // Doubles still on disk, plus the argv of those a test cleaned up (archived by their cleanup()).
  const files = [...[...states].map((state) => join(state, 'invocations.jsonl')), join(runDir, 'invocations-archive.jsonl')];
  for (const file of files) {
    for (const line of lines(file)) {
      invocations++;
      const { argv = [], cwd = '' } = JSON.parse(line) as { argv?: string[]; cwd?: string };
      const text = [...argv, cwd].join('\u0000');
      for (const secret of secrets) if (text.includes(secret)) hits.push(`${argv.slice(0, 3).join(' ').split(secret).join('***')} … (value starting ${secret.slice(0, 4)}…)`);
    }
  }
  // Every byte every CLI run printed (stdout and stderr), against every secret any run knew of.
  let outputs = 0;
  for (const line of lines(join(runDir, 'outputs.jsonl'))) {
    outputs++;
    const { args = [], stdout = '', stderr = '' } = JSON.parse(line) as { args?: string[]; stdout?: string; stderr?: string };
    for (const secret of secrets) {
      if (stdout.includes(secret) || stderr.includes(secret)) hits.push(`output of clawdfly ${args.join(' ')} … (value starting ${secret.slice(0, 4)}…)`);
    }
  }
  rmSync(runDir, { recursive: true, force: true });
  console.log(`secret scan: ${invocations} recorded flyctl invocations from ${states.size} doubles, ${outputs} CLI outputs, ${secrets.size} secret values, ${hits.length} hits`);
  if (hits.length > 0) throw new Error(`secret values found on flyctl argv or in CLI output:\n${hits.join('\n')}`);
  // A scan that read nothing proves nothing: doubles ran but none of their argv reached it.
  if (states.size > 0 && invocations === 0) throw new Error(`secret scan read no flyctl invocations from ${states.size} doubles`);
}
