/**
 * Every secret value reaches Fly exactly: the stdin clawdfly writes for `secrets import` is read
 * back by the double's parser (its own port of flyctl's parser.go, written separately from
 * src/fly/secrets-import.ts) to the same bytes, for values built from `#`, `"`, `'`, newlines.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatSecretsImport, importLine, parseFlyctlSecretsImport } from '../src/fly/secrets-import.js';
// @ts-expect-error plain ESM without types
import { parseSecretsImport as flyctlParserInTheDouble } from './fakefly/lib/commands.mjs';
import { APP, newProject, stopAppServer } from './deploy/setup.js';
import { runCli, TEST_SECRETS } from './helpers/cli.js';
import { useInProcessCli } from './helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(stopAppServer);

/** The audit's three (each broke the old single-quote fallback), and the shapes around them. */
const HARD = ['a#b"c', 'x"y"#z', '#lead"q', "'", '"', '""x', 'x""', '"""', 'it\'s "quoted" #1', ' lead and trail ', 'a=b=c', '#', '##', '"#"', "'#'", 'sk-ant-abc#def', TEST_SECRETS.QUOTED_SECRET, TEST_SECRETS.MULTILINE_SECRET, 'line1\nline2 # not a comment\n"last"', '#x\n"y"'];

/** Every string of length ≤ 4 over these characters: the space where quoting rules collide. */
function smallValues(): string[] {
  const alphabet = ['a', '#', '"', "'", ' ', '\n'];
  const values: string[] = [];
  const grow = (prefix: string) => {
    if (prefix.length > 0) values.push(prefix);
    if (prefix.length < 4) for (const c of alphabet) grow(prefix + c);
  };
  grow('');
  return values;
}

function sendable(value: string): boolean {
  try {
    importLine('K', value);
    return true;
  } catch {
    return false;
  }
}

describe('secrets import stdin', () => {
  it('the old quoting really lost these values (the bug this guards against)', () => {
    expect(flyctlParserInTheDouble(`K='a#b"c'\n`).K).toBe("'a");
    expect(flyctlParserInTheDouble(`K='x"y"#z'\n`).K).toBe(`'x"y"`);
    expect(() => flyctlParserInTheDouble(`K='#lead"q'\n`)).toThrow(/panic/);
  });

  it('each hard value reads back byte for byte in the double, alone and all in one stdin', () => {
    for (const value of HARD) {
      const text = formatSecretsImport({ K: value });
      expect(flyctlParserInTheDouble(text), JSON.stringify(value)).toEqual({ K: value });
    }
    const all = Object.fromEntries(HARD.map((v, i) => [`S${i}`, v]));
    expect(flyctlParserInTheDouble(formatSecretsImport(all))).toEqual(all);
  });

  it('every short value over # " \' space newline is sent intact or refused, never changed', () => {
    let sent = 0;
    let refused = 0;
    for (const value of smallValues()) {
      if (!sendable(value)) {
        refused++;
        continue;
      }
      sent++;
      expect(flyctlParserInTheDouble(formatSecretsImport({ K: value })), JSON.stringify(value)).toEqual({ K: value });
      expect(parseFlyctlSecretsImport(formatSecretsImport({ K: value }))).toEqual({ K: value });
    }
    // Refusals are the rare shapes (a line ending in """ inside a multi-line value, …), not the rule.
    expect(sent).toBeGreaterThan(1500);
    expect(refused).toBeLessThan(sent / 10);
  });
});

describe('deploy with values that break naive quoting', () => {
  it('Fly holds exactly the values of secrets.env, the quoted and the multi-line one included', async () => {
    const p = await newProject();
    const file = join(p.dir, '.clawdfly', 'secrets.env');
    const extra = { QUOTED_SECRET: TEST_SECRETS.QUOTED_SECRET, MULTILINE_SECRET: TEST_SECRETS.MULTILINE_SECRET, HASH_SECRET: 'test-hash-a#b"c-9f2e' };
    writeFileSync(file, readFileSync(file, 'utf8') + Object.entries(extra).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n') + '\n', { mode: 0o600 });
    // --json and --verbose (every flyctl call shown): runCli fails the test if any value is printed.
    const r = await p.deploy(['--yes', '--json', '--verbose']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('$ flyctl secrets import --stage');
    expect(p.fake.secrets(APP)).toMatchObject(extra);
    const doctor = await runCli(['doctor', '--dir', p.dir, '--json', '--verbose'], { env: p.env, secrets: Object.values(extra) });
    expect(doctor.stdout).toContain('"checks"');
  }, 120_000);

  it('a value flyctl cannot read back is refused before anything changes (exit 2, the name, the way round it)', async () => {
    const p = await newProject();
    const file = join(p.dir, '.clawdfly', 'secrets.env');
    writeFileSync(file, readFileSync(file, 'utf8') + `ODD_SECRET=${JSON.stringify('test-odd\nends with """\nx')}\n`, { mode: 0o600 });
    const r = await p.deploy(['--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ODD_SECRET cannot be sent to Fly intact/);
    expect(r.stderr).toMatch(/fly secrets set ODD_SECRET=-/);
    expect(p.fake.state().apps[APP]).toBeUndefined();
  }, 120_000);
});
