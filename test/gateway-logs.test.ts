/**
 * src/gateway/logs.ts against EVERY file of the real gateway's output in
 * test/fixtures/gateway-logs/ (see its README): a new fixture without an expectation here fails the suite.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyLines, findFirst, findLast, isMemoryExit, LOCK_FILE_RE, parseLock, stripTimestamp } from '../src/gateway/logs.js';
import { checkConfigText } from '../src/gateway/config-file.js';
import { ROOT } from './helpers/cli.js';

const DIR = join(ROOT, 'test', 'fixtures', 'gateway-logs');
const read = (name: string) => readFileSync(join(DIR, name), 'utf8');
const kinds = (name: string) => classifyLines(read(name)).map((f) => f.kind);

/** What each .log must classify to, in order (duplicates collapsed). */
const EXPECTED: Record<string, string[]> = {
  'config-bad-values.log': ['config-invalid'],
  'config-unknown-key.log': ['config-invalid'],
  'listening-loopback.log': ['listening', 'listening', 'shutdown'],
  'lock-already-running.log': ['lock', 'port-in-use'],
  'missing-config.log': ['config-missing'],
  'oom-heap-384mb.log': ['oom'],
  'port-in-use.log': ['port-in-use'],
  'refuse-lan-without-auth.log': ['refuse-bind'],
  'seed-example-config-start.log': ['listening', 'listening', 'shutdown'],
  'unwritable-state-dir.log': ['listening', 'listening', 'eacces', 'shutdown'],
};

const collapse = (xs: string[]) => xs.filter((x, i) => i === 0 || x !== xs[i - 1] || x === 'listening');

describe('gateway log parser on the real fixtures', () => {
  const files = readdirSync(DIR).sort();

  it('has an expectation for every .log fixture, and every .json fixture is a config the schema reads', () => {
    expect(files.filter((f) => f.endsWith('.log')).sort()).toEqual(Object.keys(EXPECTED).sort());
    expect(files.every((f) => f.endsWith('.log') || f.endsWith('.json') || f === 'README.md')).toBe(true);
  });

  for (const [file, expected] of Object.entries(EXPECTED)) {
    it(`classifies ${file}`, () => {
      expect(collapse(kinds(file))).toEqual(expected);
    });
  }

  it('reads the listening address, port and PID (loopback prints two lines, the second without a PID)', () => {
    const found = classifyLines(read('listening-loopback.log')).filter((f) => f.kind === 'listening');
    expect(found).toEqual([
      expect.objectContaining({ host: '127.0.0.1', port: 3999, pid: 10578 }),
      expect.objectContaining({ host: '[::1]', port: 3999, pid: undefined }),
    ]);
    expect(findFirst(classifyLines(read('unwritable-state-dir.log')), 'listening')).toMatchObject({ port: 3996, pid: 18899 });
  });

  it('reads the owner PID of a lock timeout', () => {
    expect(findFirst(classifyLines(read('lock-already-running.log')), 'lock')).toMatchObject({ pid: 10578 });
  });

  it("reads openclaw's refusal to start on an owner lease as that, not as a crash", () => {
    const line = '2026-11-29T09:41:19.885+00:00 Gateway failed to start: Another Gateway owner lease is still active for this state directory. Run openclaw gateway status --deep for diagnostics.';
    expect(classifyLines(line).map((f) => f.kind)).toEqual(['owner-lease']);
  });

  it('collects every problem of an invalid config (inline after the literal \\n, and on following lines)', () => {
    expect(findFirst(classifyLines(read('config-bad-values.log')), 'config-invalid')!.problems).toEqual([
      'gateway.port: Invalid input: expected number, received string',
      'gateway.bind: Invalid input',
    ]);
    expect(findFirst(classifyLines(read('config-unknown-key.log')), 'config-invalid')!.problems).toEqual(['<root>: Unrecognized key: "foo"']);
  });

  it('does not mistake the doctor boxes, the pairing auto-approval or the canvas URL for failures', () => {
    const all = classifyLines(read('seed-example-config-start.log') + '\n' + read('listening-loopback.log'));
    expect(all.some((f) => f.kind === 'pairing' || f.kind === 'config-invalid' || f.kind === 'crash')).toBe(false);
  });

  it('finds each OOM sign of the heap-limit crash', () => {
    const lines = classifyLines(read('oom-heap-384mb.log')).filter((f) => f.kind === 'oom').map((f) => f.line);
    expect(lines.some((l) => l.includes('Reached heap limit'))).toBe(true);
    expect(lines.some((l) => l.includes('Runtime_AllocateInYoungGeneration'))).toBe(true);
  });

  it('finds the known 2026.1.24-3 crash and pairing refusals (lines quoted in shared/reference/gateway.md)', () => {
    expect(findLast(classifyLines(['[clawdbot] Unhandled promise rejection: TypeError: fetch failed']), 'crash')).toBeDefined();
    expect(findLast(classifyLines(['disconnected (1008): pairing required']), 'pairing')).toBeDefined();
    // gateway.md §3.2, start guard 2: token mode without a token exits 1 like the lan guard.
    expect(findLast(classifyLines(['Gateway auth is set to token, but no token is configured.']), 'refuse-bind')).toBeDefined();
  });

  it('strips the NO_COLOR timestamp prefix, knows memory exits and lock names, parses lock JSON', () => {
    expect(stripTimestamp('2026-11-24T05:56:30.438Z Missing config. Run')).toBe('Missing config. Run');
    // a bare 137 is any SIGKILL (a forced stop); only the OOM flag or V8's SIGABRT (134) mean memory
    expect([isMemoryExit(137), isMemoryExit(137, true), isMemoryExit(134), isMemoryExit(1), isMemoryExit(0, true)]).toEqual([false, true, true, false, true]);
    expect(LOCK_FILE_RE.test('gateway.9f80b0d2.lock')).toBe(true);
    expect(parseLock('{"pid":10578,"createdAt":"2026-11-24T05:52:43.800Z","configPath":"/data/clawdbot.json","startTime":949036}')).toEqual({
      pid: 10578, createdAt: '2026-11-24T05:52:43.800Z', configPath: '/data/clawdbot.json', startTime: 949036,
    });
    expect(parseLock('{"createdAt":"x"}')).toBeUndefined();
  });

  it('accepts the seed example config before and after the gateway rewrote it', () => {
    for (const f of files.filter((x) => x.endsWith('.json'))) expect(checkConfigText(read(f)).problems, f).toEqual([]);
  });
});
