/** `init --signal-account <+number>`: E.164 only, refused before anything is written; implies --signal. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '../helpers/cli.js';
import { freshDir, init } from './util.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const KEYS = { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY };

describe('init --signal-account', () => {
  it.each(['15551234567', '+0551234567', '+1 555 123 4567', '+1234', '+1234567890123456'])('refuses %s with exit 2 and writes nothing', async (bad) => {
    const dir = freshDir();
    const result = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'sig-test', '--signal-account', bad], { env: KEYS });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('E.164');
    expect(result.stderr).toContain('--signal-account +15551234567');
    expect(existsSync(join(dir, 'clawdbot.json'))).toBe(false);
  });

  it('writes the number into channels.signal.account and builds the Signal variant', async () => {
    const dir = freshDir();
    const result = await init(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'sig-test', '--signal-account', '+15551234567'], { env: KEYS });
    expect(result.code).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, 'clawdbot.json'), 'utf8'));
    expect(config.channels.signal.account).toBe('+15551234567');
    expect(readFileSync(join(dir, 'Dockerfile'), 'utf8')).toContain('ARG SIGNAL_CLI_URL=');
    const answers = JSON.parse(readFileSync(join(dir, '.clawdfly', 'answers.json'), 'utf8'));
    expect(answers.signalAccount).toBe('+15551234567');
  });
});
