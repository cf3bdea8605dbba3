/**
 * Deploy verification's URL window is a parameter (VerifyOptions.urlWindowMs; the test-only
 * CLAWDFLY_VERIFY_URL_WINDOW_MS): in-process, against a stand-in FlyClient whose machine is started
 * and whose gateway listens, with a URL that never answers. The evidence: a warning after the
 * window, far inside the deadline, and the number of tries the window allowed.
 */
import { describe, expect, it } from 'vitest';
import { defaultUrlWindowMs, Verifier } from '../../src/deploy/verify.js';
import type { FlyClient } from '../../src/fly/client.js';
import { findRuntime, LEGACY_RUNTIME_ID } from '../../src/gateway/runtime.js';

// clawdbot's row: its listening line below, and no ready endpoint to wait for
const runtime = findRuntime(LEGACY_RUNTIME_ID)!;
const started = Date.now();
const machine = { id: 'm1', state: 'started', region: 'iad', events: [{ type: 'start', status: 'started', source: 'flyd', timestamp: started }], checks: [] };

/** A FlyClient that only answers what the verifier asks: the machines and the recent logs. */
function standInFly(): FlyClient {
  return {
    app: 'verify-app',
    machines: async () => [machine],
    recentLogs: async () => ({ entries: [{ timestamp: new Date(started + 10).toISOString(), message: '[gateway] listening on ws://0.0.0.0:3000 (PID 7)', instance: 'm1' }], timedOut: false }),
  } as unknown as FlyClient;
}

describe('the URL window', () => {
  it('is a parameter: a URL that never answers is a warning once the window is over, long before the deadline', async () => {
    const verifier = new Verifier(standInFly(), {
      port: 3000,
      url: 'http://127.0.0.1:9/',
      since: started,
      requireListening: true,
      runtime,
      newApp: false,
      deadlineMs: 600_000,
      intervalMs: 50,
      urlWindowMs: 200,
    });
    const updates: string[] = [];
    verifier.opts.onUpdate = (text) => updates.push(text);
    await verifier.machineStarted();
    const result = await verifier.finish();
    expect(result.listening).toMatchObject({ host: '0.0.0.0', port: 3000 });
    expect(result.urlStatus).toBeUndefined();
    expect(result.warnings.join('\n')).toMatch(/http:\/\/127\.0\.0\.1:9\/ does not answer yet .*clawdfly doctor/);
    expect(updates).toContain('GET http://127.0.0.1:9/');
  });

  it('CLAWDFLY_VERIFY_URL_WINDOW_MS sets the default; 20 s without it', () => {
    const saved = process.env['CLAWDFLY_VERIFY_URL_WINDOW_MS'];
    try {
      delete process.env['CLAWDFLY_VERIFY_URL_WINDOW_MS'];
      expect(defaultUrlWindowMs()).toBe(20_000);
      process.env['CLAWDFLY_VERIFY_URL_WINDOW_MS'] = '1500';
      expect(defaultUrlWindowMs()).toBe(1500);
    } finally {
      if (saved === undefined) delete process.env['CLAWDFLY_VERIFY_URL_WINDOW_MS'];
      else process.env['CLAWDFLY_VERIFY_URL_WINDOW_MS'] = saved;
    }
  });
});
