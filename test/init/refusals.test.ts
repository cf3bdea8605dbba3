/**
 * Every input `init` refuses: exit code 2, one line saying why on stderr, the flag that fixes it
 * in the hint line, nothing on stdout, and nothing written — neither into a new directory (it
 * is not even created) nor into an existing project (every byte and mode unchanged).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '../helpers/cli.js';
import { freshDir, init, snapshot, stderrLines } from './util.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

interface Refusal {
  name: string;
  args: string[];
  env?: Record<string, string>;
  input?: string;
  /** The cause line (after "✖ "). */
  cause: RegExp;
  /** The flag the hint must name. */
  flag: string;
}

const REFUSALS: Refusal[] = [
  { name: 'bad app name (uppercase, underscore)', args: ['--yes', '--app', 'My_Claw'], cause: /invalid app name "My_Claw"/, flag: '--app' },
  { name: 'bad app name (starts with a digit)', args: ['--yes', '--app', '1claw'], cause: /invalid app name "1claw"/, flag: '--app' },
  { name: 'bad app name (63 characters)', args: ['--yes', '--app', `a${'b'.repeat(62)}`], cause: /invalid app name/, flag: '--app' },
  { name: 'unknown region', args: ['--yes', '--app', 'my-claw', '--region', 'xyz'], cause: /unknown region "xyz"/, flag: '--region' },
  { name: '512 MB memory', args: ['--yes', '--app', 'my-claw', '--memory', '512'], cause: /--memory 512 is too small/, flag: '--memory' },
  { name: 'memory above the VM size allows', args: ['--yes', '--app', 'my-claw', '--memory', '8192'], cause: /8192 MB is above 4096 MB/, flag: '--memory' },
  { name: 'memory not a number', args: ['--yes', '--app', 'my-claw', '--memory', 'lots'], cause: /--memory takes a whole number/, flag: '--memory' },
  { name: 'port below 1024', args: ['--yes', '--app', 'my-claw', '--port', '80'], cause: /--port 80 is out of range/, flag: '--port' },
  { name: 'port above 65535', args: ['--yes', '--app', 'my-claw', '--port', '70000'], cause: /--port 70000 is out of range/, flag: '--port' },
  { name: 'volume name with a dash', args: ['--yes', '--app', 'my-claw', '--volume', 'clawd-data'], cause: /invalid volume name "clawd-data"/, flag: '--volume clawd_data' },
  {
    name: 'malformed guild id',
    args: ['--yes', '--app', 'my-claw', '--discord-guild', '12345:general'],
    env: { DISCORD_BOT_TOKEN: TEST_SECRETS.DISCORD_BOT_TOKEN },
    cause: /malformed Discord guild id "12345"/,
    flag: '--discord-guild',
  },
  { name: 'Discord enabled, no token, --yes', args: ['--yes', '--app', 'my-claw', '--discord'], cause: /Discord is enabled but DISCORD_BOT_TOKEN is not set/, flag: '--no-discord' },
  {
    name: 'guild given (Discord implied), no token, --yes',
    args: ['--yes', '--app', 'my-claw', '--discord-guild', '123456789012345678:general'],
    cause: /DISCORD_BOT_TOKEN is not set/,
    flag: '--secrets-stdin',
  },
  { name: 'Telegram enabled, no token, --yes', args: ['--yes', '--app', 'my-claw', '--telegram'], cause: /Telegram is enabled but TELEGRAM_BOT_TOKEN is not set/, flag: '--no-telegram' },
  { name: 'no TTY and no --yes', args: ['--app', 'my-claw'], cause: /no terminal to ask them on/, flag: '--yes' },
  { name: '--force with --keep', args: ['--yes', '--app', 'my-claw', '--force', '--keep'], cause: /--force and --keep contradict/, flag: 'one of them' },
  {
    name: 'bad variable name on --secrets-stdin',
    args: ['--yes', '--app', 'my-claw', '--secrets-stdin'],
    input: 'anthropic key=abc123456\n',
    cause: /--secrets-stdin: line 1 "anthropic key" is not a valid variable name/,
    flag: 'ANTHROPIC_API_KEY=',
  },
  {
    name: 'a key broken over two lines on --secrets-stdin',
    args: ['--yes', '--app', 'my-claw', '--secrets-stdin'],
    input: '# keys\nANTHROPIC_API_KEY=test-anthropic-line1\nline2\n',
    cause: /--secrets-stdin: line 3 is not NAME=VALUE/,
    flag: 'NAME=VALUE',
  },
  {
    name: 'an empty value on --secrets-stdin',
    args: ['--yes', '--app', 'my-claw', '--secrets-stdin'],
    input: 'OPENAI_API_KEY=\n',
    cause: /--secrets-stdin: line 1 OPENAI_API_KEY has no value/,
    flag: 'NAME=VALUE',
  },
  {
    name: 'an unclosed quote on --secrets-stdin',
    args: ['--yes', '--app', 'my-claw', '--secrets-stdin'],
    input: 'OPENAI_API_KEY="test-openai-unclosed\n',
    cause: /--secrets-stdin: line 1 OPENAI_API_KEY: the " quote is not closed/,
    flag: 'NAME=VALUE',
  },
  {
    name: 'the same key twice on --secrets-stdin',
    args: ['--yes', '--app', 'my-claw', '--secrets-stdin'],
    input: 'OPENAI_API_KEY=test-openai-one-000000\n\nOPENAI_API_KEY=test-openai-two-000000\n',
    cause: /--secrets-stdin: line 3 OPENAI_API_KEY is given twice \(also on line 1\)/,
    flag: 'NAME=VALUE',
  },
];

function expectRefused(result: { code: number; stdout: string; stderr: string }, r: Refusal): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  const lines = stderrLines(result);
  // Exactly two lines: the cause, then the hint naming the fix.
  expect(lines, result.stderr).toHaveLength(2);
  expect(lines[0]).toMatch(/^✖ /);
  expect(lines[0]).toMatch(r.cause);
  expect(lines[1]).toMatch(/^ {2}→ /);
  expect(lines[1]).toContain(r.flag);
}

describe('init refuses bad input, writes nothing', () => {
  describe.concurrent('into a new directory', () => {
    it.each(REFUSALS)('$name', async (r) => {
      const dir = freshDir();
      const result = await init(['--dir', dir, ...r.args], { env: r.env, input: r.input });
      expectRefused(result, r);
      expect(existsSync(dir)).toBe(false);
    });
  });

  describe.concurrent('into an existing project', () => {
    let dir: string;
    let before: ReturnType<typeof snapshot>;
    beforeAll(async () => {
      dir = freshDir();
      const result = await init(['--yes', '--dir', dir, '--app', 'my-claw'], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY } });
      expect(result.code).toBe(0);
      // A user edit, so a refused run that wrote anything would show.
      writeFileSync(join(dir, 'fly.toml'), '# my note\n', { flag: 'a' });
      before = snapshot(dir);
    });

    it.each(REFUSALS)('$name', async (r) => {
      const result = await init(['--dir', dir, ...r.args], { env: r.env, input: r.input });
      expectRefused(result, r);
      expect(snapshot(dir)).toEqual(before);
    });
  });

  it('--memory 512 --force is allowed, with a warning that names the risk', async () => {
    const dir = freshDir();
    const result = await init(['--yes', '--dir', dir, '--app', 'my-claw', '--memory', '512', '--force']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^! 512 MB is below 1024 MB: .*killed.*--force/m);
    expect(existsSync(join(dir, 'fly.toml'))).toBe(true);
  });

  it('--memory 1024 is allowed with a warning recommending 2048, without --force', async () => {
    const dir = freshDir();
    const result = await init(['--yes', '--dir', dir, '--app', 'my-claw', '--memory', '1024']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^! 1024 MB may run out of memory.*2048 MB is recommended/m);
  });
});
