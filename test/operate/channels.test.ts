// `clawdfly channels login`: interactive logins over `ssh console --pty` as the gateway's user,
// token channels checked without ssh; and the Signal image variant init produces for it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, TEST_SECRETS, tempDir } from '../helpers/cli.js';
import { APP, cleanupAll, deployed, type Deployment } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

let d: Deployment;
beforeAll(async () => {
  d = await deployed({ init: ['--discord'], initEnv: { DISCORD_BOT_TOKEN: TEST_SECRETS.DISCORD_BOT_TOKEN } });
}, 60_000);
afterAll(cleanupAll);

describe('clawdfly channels login', () => {
  it('whatsapp runs the gateway login over ssh with --pty, as the gateway user, after the QR warnings', async () => {
    const mark = d.mark();
    const before = d.fake.clawdbotCalls().length;
    const r = await d.cli(['channels', 'login', 'whatsapp']);
    const ssh = d.since(mark).filter((a) => a[0] === 'ssh');
    expect(ssh).toEqual([
      ['ssh', 'console', '-a', APP, '--machine', d.machineId, '--user', 'node', '--pty', '-C', 'node /app/node_modules/clawdbot/dist/index.js channels login --channel whatsapp'],
    ]);
    expect(d.fake.clawdbotCalls().slice(before).map((c) => c.argv)).toEqual([['node', '/app/node_modules/clawdbot/dist/index.js', 'channels', 'login', '--channel', 'whatsapp']]);
    expect(r.stderr).toMatch(/not a terminal: the QR code will not be scannable/);
    expect(r.stderr).toMatch(/replaced about every 20 s/);
    // The double's stand-in has no `channels login` (it exits 1): the failure is reported with the retry.
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/WhatsApp login .* did not finish/);
    expect(r.stderr).toMatch(/clawdfly channels login whatsapp/);
  });

  it('discord: no interactive login; checks the bot token secret locally and on Fly, without ssh', async () => {
    const mark = d.mark();
    const r = await d.cli(['channels', 'login', 'discord', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, channel: 'discord', interactive: false, secret: 'DISCORD_BOT_TOKEN', local: true, remote: true });
    expect(d.since(mark)).toEqual([['secrets', 'list', '--json', '-a', APP]]);
  });

  it('discord: set locally but not on Fly says to deploy', async () => {
    d.fly(['secrets', 'unset', 'DISCORD_BOT_TOKEN', '--stage', '-a', APP]);
    const r = await d.cli(['channels', 'login', 'discord']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/DISCORD_BOT_TOKEN is in \.clawdfly\/secrets\.env but not on Fly/);
    expect(r.stdout).toMatch(/clawdfly deploy/);
  });

  it('telegram without a token says how to set one', async () => {
    const r = await d.cli(['channels', 'login', 'telegram']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Telegram has no interactive login/);
    expect(r.stderr).toMatch(/TELEGRAM_BOT_TOKEN is not set/);
    expect(r.stderr).toMatch(/clawdfly init --telegram/);
  });

  it('signal needs the Signal image variant; refused before any flyctl call', async () => {
    const mark = d.mark();
    const r = await d.cli(['channels', 'login', 'signal']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/clawdfly init --signal/);
    expect(d.since(mark)).toEqual([]);
  });

  it('an unknown channel is refused (exit 2)', async () => {
    const r = await d.cli(['channels', 'login', 'myspace']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/clawdfly channels login <whatsapp\|signal\|telegram\|discord>/);
  });
});

describe('Signal variant', () => {
  it('init --signal refuses less than 2048 MB, even with --force', async () => {
    const dir = join(tempDir(), 'g');
    const r = await runCli(['init', '--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'sig-claw', '--signal', '--memory', '1024', '--force'], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY, OPENAI_API_KEY: TEST_SECRETS.OPENAI_API_KEY } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Signal needs Java and signal-cli: at least 2048 MB, got 1024/);
  });

  it('init --signal writes Java + signal-cli into the image and a clawdbot.json our schema accepts; login links into the volume', async () => {
    const s = await deployed({ init: ['--signal'] });
    const dockerfile = readFileSync(join(s.dir, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/openjdk-\d+-jre-headless/);
    // a wrapper at /usr/local/bin/signal-cli that keeps the account on the volume, where the login links it
    expect(dockerfile).toMatch(/signal-cli --config \/data\/signal-cli "\$@".* > \/usr\/local\/bin\/signal-cli/);
    const configText = readFileSync(join(s.dir, 'clawdbot.json'), 'utf8');
    const { checkConfigText } = await import('../../src/gateway/config-file.js');
    const check = checkConfigText(configText);
    expect(check.problems).toEqual([]);
    expect(JSON.parse(configText).channels.signal).toMatchObject({ cliPath: '/usr/local/bin/signal-cli' });

    const mark = s.mark();
    const r = await s.cli(['channels', 'login', 'signal']);
    expect(s.since(mark).filter((a) => a[0] === 'ssh')).toEqual([
      ['ssh', 'console', '-a', APP, '--machine', s.machineId, '--user', 'node', '--pty', '-C', `/usr/local/bin/signal-cli --config /data/signal-cli link -n ${APP}`],
    ]);
    expect(r.stderr).toMatch(/sgnl:\/\/linkdevice/);
    // signal-cli is not installed on the double's host: the remote exits non-zero and we say so.
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/signal-cli link .* did not finish/);
  });
});
