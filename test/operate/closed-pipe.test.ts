/**
 * Output into a closed pipe (`clawdfly logs | head`) ends quietly, the way git and flyctl do:
 * exit 141 (128 + SIGPIPE), nothing on stderr — never `Error: write EPIPE` and a stack trace.
 * The reading end is closed before the CLI writes its first byte, so every run hits EPIPE.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { APP, cleanupAll, deployed, type Deployment } from './setup.js';

function runIntoClosedPipe(args: string[], cwd: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...env, NO_COLOR: '1', CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

let d: Deployment;
beforeAll(async () => {
  d = await deployed();
  d.fake.seedLogs(APP, Array.from({ length: 500 }, (_, i) => `[gateway] line ${i}`), { machineId: d.machineId });
}, 60_000);
afterAll(cleanupAll);

describe('a closed output pipe', () => {
  for (const args of [['init', '--help'], ['logs'], ['status', '--json']]) {
    it(`clawdfly ${args.join(' ')} ends quietly`, async () => {
      const r = await runIntoClosedPipe([...args, '--dir', d.dir], d.dir, d.fake.env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(141);
    });
  }
});
