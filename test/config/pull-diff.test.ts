/** `clawdfly config pull` and `config diff` through the real binary against the flyctl double. */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '../helpers/cli.js';
import { deployedProject, editLocal, gatewayRewrite, putRemote, type Deployed } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const live: Deployed[] = [];

async function project(): Promise<Deployed> {
  const d = await deployedProject(['--discord', '--discord-guild', '123456789012345678:general'], { DISCORD_BOT_TOKEN: TEST_SECRETS.DISCORD_BOT_TOKEN });
  live.push(d);
  return d;
}

afterEach((ctx) => {
  for (const d of live.splice(0)) {
    if (ctx.task.result?.state === 'fail') console.error(`fakefly state kept: ${d.fake.dir}`);
    else d.fake.cleanup();
  }
});

describe('config diff', () => {
  it('exit 0 when the remote is the gateway\'s rewrite of the local file (key order, whitespace, meta, defaults)', async () => {
    const d = await project();
    putRemote(d, gatewayRewrite(readFileSync(d.localPath, 'utf8')));
    expect(d.remoteText()).not.toBe(readFileSync(d.localPath, 'utf8'));
    const result = await d.cli(['config', 'diff']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('in sync');
  }, 60_000);

  it('exit 1 with a readable diff when a setting differs, also when the gateway-added value was changed on the machine', async () => {
    const d = await project();
    const remote = JSON.parse(gatewayRewrite(readFileSync(d.localPath, 'utf8')));
    remote.commands.native = 'off'; // someone chose this on the machine: not a default any more
    putRemote(d, JSON.stringify(remote, null, 2));
    editLocal(d, (c) => (c.agents.defaults.maxConcurrent = 9));
    const result = await d.cli(['config', 'diff', '--json']);
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.equal).toBe(false);
    expect(doc.diff).toContain('+      "maxConcurrent": 9');
    expect(doc.diff).toContain('-    "native": "off"');
    expect(doc.diff).not.toContain('lastTouchedAt');
  }, 60_000);

  it('shows the machine\'s side inertly: escape sequences in a file there that does not parse never reach the terminal', async () => {
    const d = await project();
    // not JSON, so the diff is of the text as it is on the machine
    putRemote(d, '{ "gateway": \u001b]0;pwned\u0007\u001b[2J\u009b31m\n');
    const result = await d.cli(['config', 'diff']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(result.stdout).toContain('-{ "gateway": \\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m');
  }, 60_000);

  it('exit 1 when there is no config on the machine', async () => {
    const d = await project();
    rmSync(d.remotePath(), { force: true });
    const result = await d.cli(['config', 'diff']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('there is no /data/clawdbot.json');
  }, 60_000);
});

describe('config pull', () => {
  it('writes the machine\'s bytes (with the gateway\'s additions) to the local file after showing the diff', async () => {
    const d = await project();
    const remote = gatewayRewrite(readFileSync(d.localPath, 'utf8')).replace('"maxConcurrent": 4', '"maxConcurrent": 6');
    putRemote(d, remote);
    const result = await d.cli(['config', 'pull', '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('+    "lastTouchedAt"');
    expect(readFileSync(d.localPath, 'utf8')).toBe(remote);
    // and now they agree
    const diff = await d.cli(['config', 'diff']);
    expect(diff.code).toBe(0);
  }, 60_000);

  it('writes the pulled file 0600 and warns about literal secrets in it (by path, never the value)', async () => {
    const d = await project();
    const config = JSON.parse(gatewayRewrite(readFileSync(d.localPath, 'utf8')));
    config.gateway = { ...config.gateway, auth: { token: 'ui-set-token-5e1f0c2b9a7d' } };
    config.channels = { ...config.channels, telegram: { botToken: '${TELEGRAM_BOT_TOKEN}' } };
    putRemote(d, JSON.stringify(config, null, 2) + '\n');
    const result = await d.cli(['config', 'pull', '--yes'], {});
    expect(result.code, result.stderr).toBe(0);
    expect(statSync(d.localPath).mode & 0o777).toBe(0o600);
    expect(result.stderr).toContain('gateway.auth.token');
    expect(result.stderr).not.toContain('channels.telegram.botToken');
    expect(result.stderr).toContain('${VAR}');
  }, 60_000);

  it('without --yes and without a terminal: refuses (exit 2) and leaves the local file alone', async () => {
    const d = await project();
    const before = readFileSync(d.localPath, 'utf8');
    putRemote(d, gatewayRewrite(before));
    const result = await d.cli(['config', 'pull']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--yes');
    expect(readFileSync(d.localPath, 'utf8')).toBe(before);
  }, 60_000);

  it('tells a missing remote file apart from a broken connection', async () => {
    const d = await project();
    const missing = await d.cli(['config', 'pull', '--yes']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('there is no /data/clawdbot.json');

    putRemote(d, '{}');
    const broken = await d.cli(['config', 'pull', '--yes'], { FAKEFLY_FAIL: 'ssh console' });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('operation timed out');
    expect(broken.stderr).not.toContain('there is no');
  }, 60_000);
});
