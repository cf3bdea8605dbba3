/**
 * Every clawdbot.json `clawdfly init` can generate (the golden answer sets) is accepted by the real
 * gateway's own validator (clawdbot 2026.1.24-3 on Node 22, `config get gateway.mode`: the same
 * guard that refuses to start the gateway), and each kind of broken file is rejected by both
 * clawdfly's checkConfigText and the gateway, with the same path and message.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { validateWithRealGateway, type ValidationResult } from '../support/real-gateway.js';
import { checkConfigText } from '../../src/gateway/config-file.js';

const MIN = 60_000;
const GOLDEN = join(ROOT, 'test', 'golden');
// The clawdbot cases: the openclaw golden holds openclaw.json, which openclaw's own validator checks
// (test/up/host-openclaw.image.test.ts), not this Node 22 one.
const goldenCases = readdirSync(GOLDEN, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(GOLDEN, e.name, 'clawdbot.json')))
  .map((e) => e.name)
  .sort();

type Json = Record<string, any>;
const golden = (name: string): Json => JSON.parse(readFileSync(join(GOLDEN, name, 'clawdbot.json'), 'utf8')) as Json;

/** At most `n` real-gateway runs at once (each is a Node process start; two cores here). */
async function mapLimited<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

const ours = (text: string) => checkConfigText(text).problems.map((p) => `${p.path}: ${p.message}`);

describe('generated configs against the real gateway validator', () => {
  it('finds the golden answer sets', () => {
    // A renamed or emptied golden folder must not make the next test vacuous.
    expect(goldenCases).toEqual(expect.arrayContaining(['defaults', 'discord-telegram', 'memory-4gb', 'no-channels', 'port-8080']));
  });

  it('accepts every clawdbot.json that init generates', async () => {
    const texts = goldenCases.map((name) => readFileSync(join(GOLDEN, name, 'clawdbot.json'), 'utf8'));
    const results = await mapLimited(texts, 2, (text) => validateWithRealGateway(text));
    goldenCases.forEach((name, i) => {
      const r = results[i]!;
      expect({ name, ok: r.ok, problems: r.problems, mode: r.mode }).toEqual({ name, ok: true, problems: [], mode: 'local' });
      expect(ours(texts[i]!), name).toEqual([]);
    });
  }, 20 * MIN);

  const BROKEN: { kind: string; make: () => Json; expected: string }[] = [
    {
      kind: 'unknown root key',
      make: () => ({ ...golden('defaults'), foo: 1 }),
      expected: '<root>: Unrecognized key: "foo"',
    },
    {
      kind: 'nested unknown key',
      make: () => {
        const c = golden('defaults');
        c['agents']['defaults']['modle'] = 'anthropic/claude-opus-4-5';
        return c;
      },
      expected: 'agents.defaults: Unrecognized key: "modle"',
    },
    {
      kind: 'unknown key inside a channel (channels itself is passthrough)',
      make: () => {
        const c = golden('discord-telegram');
        c['channels']['discord']['tokn'] = 'x';
        return c;
      },
      expected: 'channels.discord: Unrecognized key: "tokn"',
    },
    {
      kind: 'bad value type',
      make: () => {
        const c = golden('defaults');
        c['gateway']['port'] = '3000';
        return c;
      },
      expected: 'gateway.port: Invalid input: expected number, received string',
    },
    {
      kind: 'bad enum value',
      make: () => {
        const c = golden('defaults');
        c['gateway']['bind'] = 'public';
        return c;
      },
      expected: 'gateway.bind: Invalid input',
    },
    {
      kind: 'model as a string',
      make: () => {
        const c = golden('defaults');
        c['agents']['defaults']['model'] = 'anthropic/claude-opus-4-5';
        return c;
      },
      expected: 'agents.defaults.model: Invalid input: expected object, received string',
    },
  ];

  it('rejects each kind of broken file in both validators, with the same path and message', async () => {
    const texts = BROKEN.map((b) => JSON.stringify(b.make(), null, 2) + '\n');
    const theirs: ValidationResult[] = await mapLimited(texts, 2, (text) => validateWithRealGateway(text));
    BROKEN.forEach((b, i) => {
      const r = theirs[i]!;
      expect({ kind: b.kind, ok: r.ok, output: r.output.includes('Config invalid') }).toEqual({ kind: b.kind, ok: false, output: true });
      expect({ kind: b.kind, theirs: r.problems }).toEqual({ kind: b.kind, theirs: [b.expected] });
      expect({ kind: b.kind, ours: ours(texts[i]!) }).toEqual({ kind: b.kind, ours: [b.expected] });
      // checkConfigText also locates the problem in the file
      expect(checkConfigText(texts[i]!).problems[0]!.line, b.kind).toBeGreaterThan(0);
    });
  }, 20 * MIN);
});
