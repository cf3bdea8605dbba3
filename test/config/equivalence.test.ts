/** configsEquivalent against the real gateway's rewrite of the walkthrough config (shared fixtures). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

/** Real gateway output (copied from shared/fixtures/gateway-logs/ by the init tests). */
const FIXTURES = join(ROOT, 'test', 'init', 'fixtures');
const { configsEquivalent } = await import('../../src/remote/config-transfer.js');
const before = readFileSync(`${FIXTURES}/seed-example-config.json`, 'utf8');
const after = readFileSync(`${FIXTURES}/seed-example-config.after-start.json`, 'utf8');

describe('configsEquivalent', () => {
  it('the gateway\'s own rewrite at start (meta, materialized defaults, plugins.entries.discord) is the same config', () => {
    expect(before).not.toBe(after);
    expect(configsEquivalent(before, after)).toBe(true);
  });

  it('a real change on either side is a difference', () => {
    expect(configsEquivalent(before.replace('"maxConcurrent": 4', '"maxConcurrent": 5'), after)).toBe(false);
    expect(configsEquivalent(before, after.replace('"nativeSkills": "auto"', '"nativeSkills": "off"'))).toBe(false);
    expect(configsEquivalent(before, after.replace('"allow": true', '"allow": false'))).toBe(false);
  });

  it('a gateway default the local file sets explicitly must match', () => {
    const local = JSON.parse(before);
    local.messages = { ackReactionScope: 'all' };
    expect(configsEquivalent(JSON.stringify(local), after)).toBe(false);
  });

  it('array order matters; key order, whitespace and JSON5 syntax do not', () => {
    expect(configsEquivalent('{ a: [1, 2], /* note */ b: { c: 1, d: 2, }, }', '{"b":{"d":2,"c":1},"a":[1,2]}')).toBe(true);
    expect(configsEquivalent('{"a":[1,2]}', '{"a":[2,1]}')).toBe(false);
  });
});
