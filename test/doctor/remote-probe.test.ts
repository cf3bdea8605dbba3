/** The doctor probe's answer (the agent's doctor-probe JSON) read against forged input, and printed hints (issue #19). */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sshHint } from '../../src/doctor/checks/common.js';
import { parseRemoteFacts, type RemoteTargets } from '../../src/doctor/remote.js';
import type { DoctorProbe } from '../../src/remote/agent/protocol.js';
import { RUNTIMES, LEGACY_RUNTIME_ID } from '../../src/gateway/runtime.js';
import { remoteCommand } from '../../src/fly/quote.js';
import type { Evidence } from '../../src/doctor/types.js';
import { tempDir } from '../helpers/cli.js';

const runtime = RUNTIMES[LEGACY_RUNTIME_ID]!;
const targets: RemoteTargets = { configs: ['/data/clawdbot.json'], stateDirs: ['/data'], tmpBases: ['/data/tmp'], workspaces: ['/data/workspace'] };
const b64 = (s: string) => Buffer.from(s).toString('base64');

const answer = (probe: Partial<DoctorProbe>) => `some banner\n${JSON.stringify({ configs: [], stateDirs: [], workspaces: [], locks: [], leftovers: [], ...probe })}\n`;

describe('parseRemoteFacts', () => {
  it('takes locks only with a gateway lock name in a known lock dir and a numeric pid', () => {
    const lock = (path: string, json: string) => ({ path, json64: b64(json), alive: false });
    const out = answer({
      tmpdir: '/data/tmp',
      locks: [
        lock('/data/credentials/creds.json', '{"pid":12}'),
        lock('/data/gateway.1234567.lock', '{"pid":12}'),
        lock('/data/x/../gateway.12345678.lock', '{"pid":12}'),
        lock('/etc/gateway.12345678.lock', '{"pid":12}'),
        lock('/data/tmp/clawdbot-x1/gateway.12345678.lock', '{"pid":12}'),
        lock('/data/gateway.9f80b0d2.lock', '{"pid":"12"}'),
        lock('/data/gateway.0000000a.lock', '{"pid":12.5}'),
        lock('/data/gateway.0000000b.lock', '{"pid":12}'),
        lock('/data/tmp/clawdbot-1000/gateway.0000000c.lock', '{"pid":13}'),
      ],
    });
    const facts = parseRemoteFacts(out, runtime, targets);
    expect(facts.complete).toBe(true);
    expect(facts.locks.map((l) => l.path)).toEqual(['/data/gateway.9f80b0d2.lock', '/data/gateway.0000000a.lock', '/data/gateway.0000000b.lock', '/data/tmp/clawdbot-1000/gateway.0000000c.lock']);
    // a pid that is not a positive integer is no lock at all: never judged stale
    expect(facts.locks.map((l) => l.lock?.pid)).toEqual([undefined, undefined, 12, 13]);
  });

  it('takes configs, dirs and leftovers only for the targets asked about; no answer is an incomplete probe', () => {
    const text = '{\n// a JSON5 comment\n}';
    const out = answer({
      configs: [
        { path: '/data/clawdbot.json', exists: true, regular: true, readable: true, bytes: 20, mode: '600', text64: b64(text) },
        { path: '/etc/shadow', exists: true, regular: true, readable: true, text64: b64('root:x') },
      ],
      stateDirs: [{ path: '/data', exists: true, writable: true }, { path: '/etc', exists: true, writable: true }],
      leftovers: [{ path: '/data/.clawdfly-restore-Ab12Cd34', kb: 4, mtime: 1 }, { path: '/data/credentials', kb: 4 }, { path: '/etc/.clawdfly-restore-Ab12Cd34' }],
      restoreMarker: { path: '/etc/.clawdfly-restore.json', state: 'applied' },
    });
    const facts = parseRemoteFacts(out, runtime, targets);
    expect(facts.configs.map((c) => [c.path, c.text, c.mode])).toEqual([['/data/clawdbot.json', text, '600']]);
    expect(facts.stateDirs.map((d) => d.path)).toEqual(['/data']);
    expect(facts.leftovers.map((l) => l.path)).toEqual(['/data/.clawdfly-restore-Ab12Cd34']);
    expect(facts.restoreMarker).toBeUndefined();
    expect(parseRemoteFacts('Error: ssh shell: Process exited with status 1\n', runtime, targets).complete).toBe(false);
  });
});

describe('printed hints', () => {
  it('a path read from the machine never runs anything when the hint is pasted into a shell', () => {
    const dir = tempDir();
    const evil = `/data/gateway.$(touch ${join(dir, 'pwned')}).lock'"; touch ${join(dir, 'pwned2')} #`;
    const ev = { project: { app: 'my app' } } as unknown as Evidence;
    const hint = sshHint(ev, ['rm', '-f', '--', evil]);
    const r = spawnSync('sh', ['-c', `fly() { printf '%s\\n' "$@"; }\n${hint}`], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
    expect(existsSync(join(dir, 'pwned2'))).toBe(false);
    expect(r.stdout.split('\n').slice(0, 6)).toEqual(['ssh', 'console', '-a', 'my app', '-C', remoteCommand(['rm', '-f', '--', evil])]);
  });
});
