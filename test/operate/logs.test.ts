// `clawdfly logs`: `fly logs --no-tail --json` (recent) or `fly logs` streamed (--follow), the
// gateway's own lines (test/fixtures/gateway-logs) marked, secrets redacted.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TEST_SECRETS } from '../helpers/cli.js';
import { APP, cleanupAll, deployed, runUntil, type Deployment } from './setup.js';

const fixture = (name: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'gateway-logs', name), 'utf8').split('\n').filter((l) => l.trim());
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

let d: Deployment;
beforeAll(async () => {
  d = await deployed();
  const listening = fixture('listening-loopback.log').find((l) => l.includes('listening on ws://127.0.0.1'))!;
  const lock = fixture('lock-already-running.log')[0]!;
  const oom = fixture('oom-heap-384mb.log').find((l) => l.includes('Reached heap limit'))!;
  d.fake.seedLogs(APP, [
    { message: 'an hour-old line', timestamp: ago(3_600_000) },
    { message: listening, timestamp: ago(60_000) },
    { message: `provider key is ${TEST_SECRETS.ANTHROPIC_API_KEY} oops`, timestamp: ago(50_000) },
    { message: lock, timestamp: ago(40_000) },
    { message: oom, timestamp: ago(30_000) },
    { message: '[clawdbot] Unhandled promise rejection: TypeError: fetch failed', timestamp: ago(20_000) },
  ], { machineId: d.machineId });
}, 60_000);
afterAll(cleanupAll);

describe('clawdfly logs', () => {
  it('shows recent lines with listening, lock, out-of-memory and error lines marked, secrets redacted', async () => {
    const mark = d.mark();
    const r = await d.cli(['logs']);
    expect(r.code, r.stderr).toBe(0);
    const line = (needle: string) => r.stdout.split('\n').find((l) => l.includes(needle)) ?? '';
    expect(line('listening on ws://')).toContain('[listening]');
    expect(line('lock timeout')).toContain('[lock]');
    expect(line('Reached heap limit')).toContain('[out of memory]');
    expect(line('Unhandled promise rejection')).toContain('[error]');
    expect(line('an hour-old line')).not.toMatch(/\[(listening|lock|error|out of memory)\]/);
    expect(line('provider key is')).toContain('provider key is *** oops');
    expect(r.stderr).toMatch(/1 error, 1 out-of-memory, 1 lock line\(s\)/);
    expect(d.since(mark)).toEqual([['logs', '--no-tail', '--json', '-a', APP]]);
  });

  it('--since keeps only newer lines; --json marks each line', async () => {
    const r = await d.cli(['logs', '--since', '10m', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.lines.map((l: { message: string }) => l.message)).not.toContain('an hour-old line');
    expect(json.lines).toHaveLength(5);
    expect(json.lines.map((l: { mark?: string }) => l.mark ?? null)).toEqual(['listening', null, 'lock', 'oom', 'error']);
    expect(json.marks).toEqual({ listening: 1, lock: 1, oom: 1, error: 1 });
  });

  it('--machine filters on that machine', async () => {
    const mark = d.mark();
    const r = await d.cli(['logs', '--machine', d.machineId]);
    expect(r.code, r.stderr).toBe(0);
    // the machine is looked up first: flyctl prints nothing for one that is not there
    expect(d.since(mark)).toEqual([
      ['machines', 'list', '--json', '-a', APP],
      ['logs', '--no-tail', '--json', '-a', APP, '-m', d.machineId],
    ]);
  });

  it('--follow streams new lines as they arrive until Ctrl-C, marked and redacted', async () => {
    const mark = d.mark();
    const later = setTimeout(() => {
      d.fake.seedLogs(APP, [`2026-11-24T06:00:00.000Z [gateway] listening on ws://0.0.0.0:3000 (PID 4242) token ${TEST_SECRETS.OPENAI_API_KEY}`], { machineId: d.machineId });
    }, 2_500);
    const r = await runUntil(['logs', '--follow', '--dir', d.dir], { cwd: d.dir, env: d.fake.env, until: /PID 4242/, timeoutMs: 25_000 });
    clearTimeout(later);
    expect(r.matched, r.stderr).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stdout).toContain('Unhandled promise rejection'); // the buffer first
    const live = r.stdout.split('\n').find((l) => l.includes('PID 4242'))!;
    expect(live).toContain('[listening]');
    expect(live).toContain('token ***');
    expect(d.since(mark)).toEqual([['logs', '-a', APP]]);
  });

  it('refuses --follow with --json and a bad --since (exit 2, no flyctl call)', async () => {
    for (const args of [['logs', '--follow', '--json'], ['logs', '--since', 'yesterday-ish']]) {
      const mark = d.mark();
      const r = await d.cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(d.since(mark)).toEqual([]);
    }
  });

  it('--follow ends its flyctl child on Ctrl-C even when the child ignores SIGINT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clawdfly-stubborn-'));
    const pidFile = join(dir, 'pid');
    const stub = join(dir, 'flyctl');
    // A flyctl that ignores Ctrl-C while it streams (as a hung network read can).
    writeFileSync(stub, `#!/bin/sh\ncase "$1" in\n  version) echo '{"Version":"0.4.90"}' ;;\n  logs) trap '' INT; echo $$ > '${pidFile}'; echo '2026-11-28T00:00:00Z app[x] iad [info] hello'; while :; do sleep 0.1; done ;;\nesac\n`, { mode: 0o755 });
    const r = await runUntil(['logs', '--follow', '--flyctl', stub, '--dir', d.dir], { cwd: d.dir, env: d.fake.env, until: /hello/, timeoutMs: 20_000 });
    expect(r.matched).toBe(true);
    expect(r.code).toBe(130);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  }, 30_000);
});

