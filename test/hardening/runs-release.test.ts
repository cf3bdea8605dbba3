/**
 * Issue 30, finding 1: after `fly deploy --image registry.fly.io/<app>@<digest>`, the rollback checks
 * the machine runs that digest before it pushes the release's config or records anything. The flyctl
 * double always runs what it is given, so the refusal itself is checked here on machine JSON.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkRunsRelease } from '../../src/release/rollback.js';
import type { Machine } from '../../src/fly/json.js';
import type { ReleaseRecord } from '../../src/release/releases.js';

const APP = 'test-claw';
const digest = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const record = { version: '3', imageRef: `${APP}:deployment-a@${digest('a')}`, image: `registry.fly.io/${APP}:deployment-a` } as ReleaseRecord;
const machine = (repository: string, d: string) => ({ id: 'm1', image_ref: { registry: 'registry.fly.io', repository, tag: 'deployment-x', digest: d }, config: { image: `registry.fly.io/${repository}@${d}` } }) as unknown as Machine;

describe('a rollback checks the machine runs the release it deployed', () => {
  it('accepts the recorded digest in this app, refuses another digest or another repository', () => {
    expect(() => checkRunsRelease(machine(APP, digest('a')), record, APP)).not.toThrow();
    expect(() => checkRunsRelease(machine(APP, digest('b')), record, APP)).toThrow(/not release v3's image/);
    expect(() => checkRunsRelease(machine('attacker/exfil', digest('a')), record, APP)).toThrow(/not release v3's image/);
  });
});
