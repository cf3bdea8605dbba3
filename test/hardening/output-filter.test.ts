/**
 * Issue 30, finding 3: names and lines that come from the machine, an archive or flyctl reach the
 * terminal (and --json) only through the output filter. A file name like `x\e[1A\e[2K\e[32mall good`
 * on the volume must show as inert text in backup's "not copied" warning, restore's change list and
 * doctor's log evidence, never as the escape sequence that rewrites what the operator reads.
 * Runs as root against the flyctl double, /data owned by the gateway user (uid 1000).
 */
import { chmodSync, chownSync, lchownSync, readFileSync, symlinkSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deployedProject, type Deployed } from '../config/setup.js';
import { asGateway, GATEWAY_UID, startAppServer, stopAppServer } from '../backup/setup.js';
import { APP, check, cleanupAll, deployed } from '../doctor/setup.js';
import { runCli, TEST_SECRETS } from '../helpers/cli.js';
import { untrusted, untrustedLines } from '../../src/ui/output.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const ESC = '\u001b';
/** Moves up a line, erases it and prints a green "all good" over it. */
const HOSTILE = `x${ESC}[1A${ESC}[2K${ESC}[32mall good`;
/** The C1 form of CSI (U+009B), which many terminals honour as ESC [. */
const HOSTILE_C1 = `y\u009b2Jcleared`;

const live: Deployed[] = [];
afterEach((ctx) => {
  for (const d of live.splice(0)) {
    if (ctx.task.result?.state === 'fail') console.error(`fakefly state kept: ${d.fake.dir}`);
    else d.fake.cleanup();
  }
});
afterAll(async () => {
  await stopAppServer();
  cleanupAll();
});

/** A deployed clawdbot project whose /data belongs to the gateway user while ssh runs as root. */
async function gateway(): Promise<Deployed> {
  if (process.getuid?.() !== 0) throw new Error('these tests play root against a gateway user: run the suite as root (the CI container does)');
  const d = await deployedProject(['--runtime', 'clawdbot'], {}, {
    FAKEFLY_VOLUME_OWNER: `${GATEWAY_UID}:${GATEWAY_UID}`,
    FAKEFLY_BOOT_LOGS: '1',
    CLAWDFLY_APP_URL: await startAppServer(),
    CLAWDFLY_VERIFY_INTERVAL_MS: '300',
    CLAWDFLY_VERIFY_TIMEOUT_MS: '45000',
  });
  live.push(d);
  for (let p = d.fake.dir; p !== dirname(p) && p.startsWith(d.fake.dir); p = dirname(p)) chmodSync(p, 0o755);
  const data = d.remotePath('/data');
  asGateway(data, 'clawdbot.json', readFileSync(d.localPath), 0o600);
  chownSync(data, GATEWAY_UID, GATEWAY_UID);
  return d;
}

/** No raw control character but the newline ends lines: nothing a terminal would act on. */
function expectInert(text: string): void {
  expect(text).not.toContain(ESC);
  expect(text).not.toContain('\u009b');
  expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
}

describe('the output filter', () => {
  it('replaces C0 and C1 controls with visible escapes, one line per line, and redaction still applies', () => {
    expect(untrusted(HOSTILE)).toBe('x\\u001b[1A\\u001b[2K\\u001b[32mall good');
    expect(untrusted(HOSTILE_C1)).toBe('y\\u009b2Jcleared');
    expect(untrusted('a\nb\rc')).toBe('a\\nb\\rc');
    expect(untrustedLines(`one${ESC}[2K\r\ntwo\n`)).toEqual(['one\\u001b[2K', 'two']);
  });

  it('backup: a planted link with an escape sequence in its name is named inertly in the "not copied" warning and in --json', async () => {
    const d = await gateway();
    const data = d.remotePath('/data');
    for (const name of [HOSTILE, HOSTILE_C1]) {
      symlinkSync('/etc/hostname', join(data, name));
      lchownSync(join(data, name), GATEWAY_UID, GATEWAY_UID);
    }
    const human = await d.cli(['backup']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toContain('not copied');
    expect(human.stderr).toContain('x\\u001b[1A\\u001b[2K\\u001b[32mall good (symlink)');
    expect(human.stderr).toContain('y\\u009b2Jcleared (symlink)');
    expectInert(human.stdout + human.stderr);

    const json = await d.cli(['backup', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expectInert(json.stdout);
    const skipped = (JSON.parse(json.stdout) as { skipped: { path: string }[] }).skipped.map((s) => s.path).sort();
    expect(skipped).toEqual(['x\\u001b[1A\\u001b[2K\\u001b[32mall good', 'y\\u009b2Jcleared']);
  }, 180_000);

  it('restore: an archive member with an escape sequence in its name is listed inertly before the confirmation', async () => {
    const d = await gateway();
    const data = d.remotePath('/data');
    asGateway(data, `sessions/${HOSTILE}.jsonl`, '{"i":0}\n', 0o600);
    const made = await d.cli(['backup', '--json']);
    expect(made.code, made.stderr).toBe(0);
    const { file } = JSON.parse(made.stdout) as { file: string };
    unlinkSync(join(data, 'sessions', `${HOSTILE}.jsonl`)); // the restore adds it back: it is in the change list

    const r = await d.cli(['restore', file, '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('+ sessions/x\\u001b[1A\\u001b[2K\\u001b[32mall good.jsonl');
    expectInert(r.stdout + r.stderr);
    // the file itself came back under its real name
    expect(readFileSync(join(data, 'sessions', `${HOSTILE}.jsonl`), 'utf8')).toBe('{"i":0}\n');
  }, 240_000);
});

describe('doctor', () => {
  it('quotes a gateway log line with escape sequences inertly (text and --json), and a secret in it stays hidden', async () => {
    const d = await deployed({ initFlags: ['--runtime', 'clawdbot'] });
    const secret = TEST_SECRETS.ANTHROPIC_API_KEY; // in the project's secrets.env: doctor hides it
    // flyctl's own colours are stripped on the way in (fly/run.ts); what is left of a hostile line
    // (a carriage return, backspaces, a bell, a lone ESC) reached the terminal raw
    d.fake.seedLogs(APP, [
      `2026-11-29T09:41:19.885+00:00 Gateway failed to start: Another Gateway owner lease is still active for this state directory.\r\u0008\u0008${ESC}✔ all good\u0007 key=${secret}`,
    ], { machineId: d.machineId });
    const text = await d.doctor([]);
    expect(text.stdout).toContain('for this state directory.\\r\\u0008\\u0008\\u001b✔ all good\\u0007 key=***');
    expectInert(text.stdout + text.stderr);

    const json = await d.doctor(['--json']);
    expectInert(json.stdout);
    expect(check(json.json, 'lock').evidence.join('\n')).toContain('state directory.\\r\\u0008\\u0008\\u001b✔ all good\\u0007 key=***');
    for (const out of [text.stdout, text.stderr, json.stdout]) expect(out).not.toContain(secret);
  }, 300_000);

  it('logs: a gateway line with control characters is printed inertly, in text and in --json', async () => {
    const d = await deployed({ initFlags: ['--runtime', 'clawdbot'] });
    d.fake.seedLogs(APP, [`[gateway] hello\r\u0008\u0008${ESC}✔ all good\u0007\u009b2J`], { machineId: d.machineId });
    const env = { ...d.fake.env, FAKEFLY_LOGS_EMPTY_EXIT: '1' };
    const text = await runCli(['logs', '--dir', d.dir], { env });
    expect(text.code, text.stderr).toBe(0);
    // (flyctl's ANSI strip already took the C1 CSI sequence)
    expect(text.stdout).toContain('[gateway] hello\\r\\u0008\\u0008\\u001b✔ all good\\u0007');
    expectInert(text.stdout + text.stderr);
    const json = await runCli(['logs', '--dir', d.dir, '--json'], { env });
    expect(json.code, json.stderr).toBe(0);
    expectInert(json.stdout);
  }, 120_000);
});
