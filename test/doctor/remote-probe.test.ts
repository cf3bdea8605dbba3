/** The doctor probe's output parser and printed hints against forged input (issue #19). */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sshHint } from '../../src/doctor/checks/common.js';
import { MARK, parseRemoteFacts, type RemoteTargets } from '../../src/doctor/remote.js';
import { RUNTIMES, LEGACY_RUNTIME_ID } from '../../src/gateway/runtime.js';
import { remoteCommand } from '../../src/fly/quote.js';
import type { Evidence } from '../../src/doctor/types.js';
import { tempDir } from '../helpers/cli.js';

const runtime = RUNTIMES[LEGACY_RUNTIME_ID]!;
const targets: RemoteTargets = { configs: ['/data/clawdbot.json'], stateDirs: ['/data'], tmpBases: ['/data/tmp'], workspaces: ['/data/workspace'] };
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('parseRemoteFacts', () => {
  it('takes locks only with a gateway lock name in a known lock dir and a numeric pid', () => {
    const lock = (path: string, json: string) => [`${MARK} lock ${path}`, `json64=${b64(json)}`, 'alive=0'];
    const out = [
      `${MARK} tmpdir /data/tmp`,
      ...lock('/data/credentials/creds.json', '{"pid":12}'),
      ...lock('/data/gateway.1234567.lock', '{"pid":12}'),
      ...lock('/data/x/../gateway.12345678.lock', '{"pid":12}'),
      ...lock('/etc/gateway.12345678.lock', '{"pid":12}'),
      ...lock('/data/tmp/clawdbot-x1/gateway.12345678.lock', '{"pid":12}'),
      ...lock('/data/gateway.9f80b0d2.lock', '{"pid":"12"}'),
      ...lock('/data/gateway.0000000a.lock', '{"pid":12.5}'),
      ...lock('/data/gateway.0000000b.lock', '{"pid":12}'),
      ...lock('/data/tmp/clawdbot-1000/gateway.0000000c.lock', '{"pid":13}'),
      `${MARK} end`,
    ].join('\n');
    const facts = parseRemoteFacts(out, runtime, targets);
    expect(facts.locks.map((l) => l.path)).toEqual(['/data/gateway.9f80b0d2.lock', '/data/gateway.0000000a.lock', '/data/gateway.0000000b.lock', '/data/tmp/clawdbot-1000/gateway.0000000c.lock']);
    // a pid that is not a positive integer is no lock at all: never judged stale
    expect(facts.locks.map((l) => l.lock?.pid)).toEqual([undefined, undefined, 12, 13]);
  });

  it('reads the config text from its base64 line; marker lines inside a file cannot appear', () => {
    const text = `{\n/*\n${MARK} lock /data/credentials/creds.json\nalive=0\n*/\n}`;
    const out = [`${MARK} tmpdir /tmp`, `${MARK} config /data/clawdbot.json`, 'exists=1', 'regular=1', 'readable=1', `${MARK} config-text /data/clawdbot.json`, `base64=${b64(text)}`, `${MARK} end`].join('\n');
    const facts = parseRemoteFacts(out, runtime, targets);
    expect(facts.configs[0]?.text).toBe(text);
    expect(facts.locks).toEqual([]);
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
