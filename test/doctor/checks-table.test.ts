/**
 * doctor's checks are pure functions of the evidence: a table over the real gateway's own output
 * (test/fixtures/gateway-logs/) as the current boot's log lines, every check run on each, in-process.
 * Only the logs are given (the other probes absent, so checks that need them skip): the table says
 * which checks the log lines alone make fail, and no check may throw on any of them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHECKS } from '../../src/doctor/checks/index.js';
import type { CheckResult, Evidence } from '../../src/doctor/types.js';
import { loadProject } from '../../src/project/project.js';
import { initProject, ROOT, useInProcessCli } from '../helpers/cli.js';

useInProcessCli();

const fixture = (name: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'gateway-logs', name), 'utf8').split('\n').filter((l) => l.trim());

/** fixture → the checks its lines alone make fail (and a line of the evidence each must quote). */
const TABLE: [string, Record<string, RegExp>][] = [
  ['lock-already-running.log', { lock: /lock/i }],
  ['config-unknown-key.log', { config: /foo|Unrecognized/ }],
  ['config-bad-values.log', { config: /gateway\.(port|bind)/ }],
  ['missing-config.log', { config: /config/i }],
  ['listening-loopback.log', {}],
  ['seed-example-config-start.log', {}],
  ['oom-heap-384mb.log', {}],
  ['port-in-use.log', {}],
  ['refuse-lan-without-auth.log', {}],
  ['unwritable-state-dir.log', {}],
];

describe('doctor checks over the real gateway log fixtures (log evidence only)', () => {
  let project: Awaited<ReturnType<typeof loadProject>>;
  beforeAll(async () => {
    project = await loadProject(await initProject(['--runtime', 'clawdbot']));
  }, 120_000);

  function evidence(name: string): Evidence {
    const bootAt = Date.now() - 60_000;
    return {
      offline: false,
      project,
      machine: { id: 'm1', state: 'started', region: 'iad', events: [{ type: 'start', status: 'started', source: 'flyd', timestamp: bootAt }], config: {} },
      logs: { ok: true, value: { lines: fixture(name).map((message, i) => ({ message, at: bootAt + 1 + i, instance: 'm1' })), timedOut: false, timeoutMs: 8000 }, ms: 0 },
    } as unknown as Evidence;
  }

  it('covers every .log fixture', () => {
    const logs = readdirSync(join(ROOT, 'test', 'fixtures', 'gateway-logs')).filter((f) => f.endsWith('.log')).sort();
    expect(TABLE.map(([name]) => name).sort()).toEqual(logs);
  });

  for (const [name, failing] of TABLE) {
    it(`${name}: ${Object.keys(failing).join(', ') || 'no check'} fails`, () => {
      const results = new Map<string, CheckResult>(CHECKS.map((c) => [c.id, c.run(evidence(name))]));
      for (const result of results.values()) expect(['ok', 'warn', 'fail', 'skip']).toContain(result.status);
      const failed = [...results].filter(([, r]) => r.status === 'fail').map(([id]) => id);
      expect(failed.sort()).toEqual(Object.keys(failing).sort());
      for (const [id, quoted] of Object.entries(failing)) {
        const r = results.get(id)!;
        expect([r.summary, ...(r.evidence ?? [])].join('\n')).toMatch(quoted);
        expect(r.fix, `${id} names its fix`).toBeTruthy();
      }
    });
  }
});
