/**
 * Our clawdbot.json schema against the gateway's: the real configs from the fixtures pass, and
 * every refusal carries the gateway's own path and message (shared/reference/gateway.md §5.2–5.3,
 * fixtures/config-*.log), with the line it is on.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkConfigText, formatProblem } from '../../src/gateway/config-file.js';
import { validateConfigObject } from '../../src/gateway/schema.js';

/** Real gateway output, copied from shared/fixtures/gateway-logs/ (see fixtures/README.md). */
const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), 'utf8');

/** The walkthrough's example, the shape init writes. */
function base(): Record<string, any> {
  return JSON.parse(fixture('seed-example-config.json'));
}

/** `- path: message` lines of a real gateway "Config invalid" block. */
function gatewayProblems(log: string): string[] {
  const block = log.slice(log.indexOf('Problem:'));
  return [...block.matchAll(/^ {2}- (.+)$/gm)].map((m) => m[1]!);
}

const problems = (value: unknown) => validateConfigObject(value).map((p) => `${p.path}: ${p.message}`);

describe('clawdbot.json schema', () => {
  it.each(['seed-example-config.json', 'seed-example-config.after-start.json'])('accepts the real config %s', (name) => {
    const check = checkConfigText(fixture(name));
    expect(check.problems).toEqual([]);
    expect(check.ok).toBe(true);
    expect(check.json5).toBe(false);
  });

  it('refuses an unknown root key with the gateway\'s exact message', () => {
    const got = problems({ ...base(), foo: 1 });
    expect(got).toEqual(['<root>: Unrecognized key: "foo"']);
    expect(got).toEqual(gatewayProblems(fixture('config-unknown-key.log')));
  });

  it('refuses a nested unknown key', () => {
    const config = base();
    config.channels.discord.tokn = 'x';
    expect(problems(config)).toEqual(['channels.discord: Unrecognized key: "tokn"']);
  });

  it('refuses gateway.port as a string and a bad gateway.bind, like the gateway', () => {
    const config = base();
    config.gateway.port = '3000';
    config.gateway.bind = 'everywhere';
    const got = problems(config);
    expect(got).toEqual(['gateway.port: Invalid input: expected number, received string', 'gateway.bind: Invalid input']);
    expect(got).toEqual(gatewayProblems(fixture('config-bad-values.log')));
  });

  it('refuses enum values with the gateway\'s "Invalid input" (a union of literals, not z.enum)', () => {
    const config = base();
    config.auth.profiles['anthropic:default'].mode = 'apikey';
    config.channels.discord.groupPolicy = 'everyone';
    config.gateway.mode = 'cloud';
    expect(problems(config)).toEqual([
      'auth.profiles.anthropic:default.mode: Invalid input',
      'channels.discord.groupPolicy: Invalid input',
      'gateway.mode: Invalid input',
    ]);
  });

  it('refuses the model as a string (it is an object)', () => {
    const config = base();
    config.agents.defaults.model = 'anthropic/claude-opus-4-5';
    expect(problems(config)).toEqual(['agents.defaults.model: Invalid input: expected object, received string']);
  });

  it('refuses maxConcurrent 0', () => {
    const config = base();
    config.agents.defaults.maxConcurrent = 0;
    expect(problems(config)).toEqual(['agents.defaults.maxConcurrent: Too small: expected number to be >0']);
  });

  it('refuses an agent without an id', () => {
    const config = base();
    config.agents.list = [{ default: true }];
    expect(problems(config)).toEqual(['agents.list.0.id: Invalid input: expected string, received undefined']);
  });

  it('refuses an unknown channel id but accepts extension channels', () => {
    expect(problems({ ...base(), channels: { foobar: {} } })).toEqual(['channels.foobar: unknown channel id: foobar']);
    expect(problems({ ...base(), channels: { matrix: { anything: true }, whatsapp: {} } })).toEqual([]);
  });

  it('refuses dm policy "open" without "*" in allowFrom', () => {
    const config = base();
    config.channels.telegram = { dmPolicy: 'open', allowFrom: ['12345'] };
    expect(problems(config)).toEqual(['channels.telegram.allowFrom: channels.telegram.dmPolicy="open" requires channels.telegram.allowFrom to include "*"']);
    config.channels.telegram.allowFrom = ['*'];
    expect(problems(config)).toEqual([]);
  });

  it('puts each problem on the line of the offending key', () => {
    const text = [
      '{', //                                1
      '  "agents": {', //                    2
      '    "defaults": {', //                3
      '      "model": "anthropic/x",', //    4
      '      "maxConcurrent": 4', //         5
      '    }', //                            6
      '  },', //                             7
      '  "channels": {', //                  8
      '    "discord": {', //                 9
      '      "enabled": true,', //           10
      '      "tokn": "abc"', //              11
      '    }', //                            12
      '  },', //                             13
      '  "gateway": { "mode": "local",', //  14
      '    "port": "3000" },', //            15
      '  "foo": 1', //                       16
      '}', //                                17
    ].join('\n');
    const check = checkConfigText(text);
    expect(check.ok).toBe(false);
    const byPath = Object.fromEntries(check.problems.map((p) => [`${p.path}: ${p.message}`, p.line]));
    expect(byPath).toEqual({
      '<root>: Unrecognized key: "foo"': 16,
      'agents.defaults.model: Invalid input: expected object, received string': 4,
      'channels.discord: Unrecognized key: "tokn"': 11,
      'gateway.port: Invalid input: expected number, received string': 15,
    });
    const foo = check.problems.find((p) => p.path === '<root>')!;
    expect(formatProblem(foo, 'clawdbot.json')).toBe('clawdbot.json:16: <root>: Unrecognized key: "foo"');
  });

  it('accepts JSON5 (comments, trailing commas, unquoted keys) and flags it', () => {
    const text = `{
  // written by hand
  agents: { defaults: { model: { primary: 'anthropic/claude-opus-4-5' }, maxConcurrent: 2, }, },
  gateway: { mode: "local", bind: "lan", },
}
`;
    const check = checkConfigText(text);
    expect(check.problems).toEqual([]);
    expect(check.ok).toBe(true);
    expect(check.json5).toBe(true);
  });

  it('locates problems in JSON5 text too', () => {
    const text = `{
  /* a comment
     over two lines */
  gateway: {
    bind: 'everywhere', // nope
  },
}`;
    const check = checkConfigText(text);
    expect(check.json5).toBe(true);
    expect(check.problems).toEqual([{ path: 'gateway.bind', message: 'Invalid input', line: 5 }]);
  });

  it('reports a JSON5 syntax error with its line', () => {
    const check = checkConfigText('{\n  "gateway": {\n    "mode": "local"\n  \n');
    expect(check.ok).toBe(false);
    expect(check.problems).toHaveLength(1);
    expect(check.problems[0]!.path).toBe('<root>');
    expect(check.problems[0]!.message).toMatch(/^JSON5 parse failed: .*invalid end of input/);
    expect(check.problems[0]!.line).toBe(5);
  });
});
