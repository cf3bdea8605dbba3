/**
 * Every command's refusals, as one table, in-process: bad input gives exit 2, a one-line cause on
 * stderr (`✖ …`) followed by the flag or command that fixes it (`→ …`), nothing written in the
 * project folder (every file's bytes and mode compared before and after), and no flyctl call that
 * may change anything on Fly (test/support/fly-writes.mjs: an allow-list of reads).
 *
 * The commands are read from the registry (src/commands/registry.ts): a new command without a
 * row here fails 'every command has a refusal row'. init's own, longer table is in
 * test/init/refusals.test.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/commands/registry.js';
import { runCli, tempDir, useInProcessCli } from './helpers/cli.js';
import { snapshot } from './init/util.js';
import { cleanupAll, deployed, type Deployment } from './operate/setup.js';
import { mayWrite } from './support/fly-writes.mjs';

useInProcessCli();

/** Where a row runs: a folder with no project, an init'ed project never deployed, or one deployed on the double. */
type Where = 'no project' | 'project' | 'deployed';

interface Refusal {
  why: string;
  where: Where;
  /** argv after the command words; `--dir <project>` is added (before a `--`). */
  args: string[];
  cause: RegExp;
  /** What the `→` line must name. */
  fix: RegExp;
}

const NO_PROJECT: Refusal = { why: 'no project in the folder', where: 'no project', args: [], cause: /^no fly\.toml in /, fix: /clawdfly init/ };

/** Command path (as typed) → its refusals. */
const TABLE: Record<string, Refusal[]> = {
  init: [
    { why: 'no terminal and no --yes', where: 'no project', args: ['--runtime', 'clawdbot'], cause: /no terminal to ask them on/, fix: /--yes/ },
    { why: 'bad app name', where: 'no project', args: ['--yes', '--runtime', 'openclaw', '--app', 'Bad_Name'], cause: /invalid app name "Bad_Name"/, fix: /--app/ },
  ],
  deploy: [
    NO_PROJECT,
    { why: '--verify-timeout not a number', where: 'project', args: ['--verify-timeout', 'soon'], cause: /--verify-timeout takes a whole number of seconds/, fix: /--verify-timeout 300/ },
    { why: '--verify-timeout below 10 s', where: 'project', args: ['--verify-timeout', '3'], cause: /at least 10/, fix: /--verify-timeout/ },
  ],
  'config validate': [{ why: 'no such file', where: 'project', args: ['nosuch.json'], cause: /^no config file at .*nosuch\.json/, fix: /clawdfly config validate <file>/ }],
  'config push': [
    NO_PROJECT,
    { why: '--wait not a number', where: 'deployed', args: ['--wait', 'x'], cause: /--wait must be a whole number/, fix: /--wait 30/ },
    { why: 'machine not in the app', where: 'deployed', args: ['--machine', 'nosuch'], cause: /machine nosuch is not in app test-claw/, fix: /fly machines list -a test-claw/ },
    { why: '--keep-backups below 1', where: 'deployed', args: ['--keep-backups', '0'], cause: /--keep-backups must be a whole number ≥ 1/, fix: /--keep-backups 5/ },
  ],
  'config pull': [NO_PROJECT, { why: 'machine not in the app', where: 'deployed', args: ['--machine', 'nosuch'], cause: /machine nosuch is not in app test-claw/, fix: /fly machines list -a test-claw/ }],
  'config diff': [NO_PROJECT, { why: 'machine not in the app', where: 'deployed', args: ['--machine', 'nosuch'], cause: /machine nosuch is not in app test-claw/, fix: /fly machines list -a test-claw/ }],
  doctor: [
    NO_PROJECT,
    { why: '--fix with --offline', where: 'project', args: ['--fix', '--offline'], cause: /--fix needs Fly/, fix: /drop --offline/ },
    { why: '--logs-timeout not a number', where: 'deployed', args: ['--logs-timeout', 'abc'], cause: /--logs-timeout must be a whole number/, fix: /--logs-timeout 10/ },
  ],
  open: [NO_PROJECT, { why: '--port not a port', where: 'deployed', args: ['--port', 'abc', '--no-browser'], cause: /--port takes a local port number/, fix: /--port 18789/ }],
  token: [NO_PROJECT, { why: '--rotate without a terminal or --yes', where: 'deployed', args: ['--rotate'], cause: /needs confirmation and there is no terminal/, fix: /--rotate --yes/ }],
  devices: [
    NO_PROJECT,
    { why: 'unknown action', where: 'deployed', args: ['frobnicate'], cause: /unknown devices action "frobnicate"/, fix: /approve --latest/ },
    { why: 'approve without an id or --latest', where: 'deployed', args: ['approve'], cause: /approve needs a request id or --latest/, fix: /approve --latest/ },
  ],
  'channels login': [{ why: 'unknown channel', where: 'deployed', args: ['carrier-pigeon'], cause: /unknown channel "carrier-pigeon"/, fix: /whatsapp\|signal\|telegram\|discord/ }],
  logs: [
    NO_PROJECT,
    { why: '--since not a duration', where: 'deployed', args: ['--since', 'yesterday'], cause: /--since "yesterday" is not a duration/, fix: /--since 10m/ },
    { why: 'machine not in the app', where: 'deployed', args: ['--machine', 'nosuch'], cause: /no machine nosuch in app test-claw/, fix: /then --machine ID/ },
  ],
  status: [NO_PROJECT, { why: 'bad app name', where: 'deployed', args: ['--app', 'Bad_App'], cause: /invalid app name "Bad_App"/, fix: /--app my-gateway/ }],
  ssh: [
    { why: 'machine not in the app', where: 'deployed', args: ['--machine', 'nosuch', '--', 'ls'], cause: /no machine nosuch in app test-claw/, fix: /then --machine ID/ },
    { why: 'interactive shell without a terminal', where: 'deployed', args: [], cause: /opens an interactive shell, and there is no terminal here/, fix: /-- ls -la \/data/ },
  ],
  up: [
    { why: 'without --local', where: 'project', args: [], cause: /only runs the project on this computer so far/, fix: /--local/ },
    { why: 'unknown engine', where: 'project', args: ['--local', '--engine', 'foo'], cause: /unknown engine "foo"/, fix: /--engine auto\|podman\|docker\|node/ },
    { why: 'port out of range', where: 'project', args: ['--local', '--port', '99999'], cause: /--port must be a port number/, fix: /--port 3000/ },
  ],
  backup: [
    NO_PROJECT,
    { why: '--out in a folder that does not exist', where: 'deployed', args: ['--out', '/nonexistent/dir/x.tgz'], cause: /no such folder: \/nonexistent\/dir/, fix: /choose another --out FILE/ },
    // fly.toml is in the snapshot: a backup never overwrites a file
    { why: '--out names a file that exists', where: 'deployed', args: ['--out', 'fly.toml'], cause: /fly\.toml already exists/, fix: /never overwrites a file/ },
    { why: 'machine not in the app', where: 'deployed', args: ['--machine', 'nosuch'], cause: /no machine nosuch in app test-claw/, fix: /then --machine ID/ },
  ],
  'backup schedule': [
    { ...NO_PROJECT, args: ['--every', '1h'] },
    { why: 'neither --every nor --off', where: 'deployed', args: [], cause: /say how often: --every <interval>, or --off/, fix: /backup schedule --every 1h/ },
    { why: '--every with --off', where: 'deployed', args: ['--every', '1h', '--off'], cause: /--every and --off contradict each other/, fix: /backup schedule --every 1h/ },
    { why: '--every too often', where: 'deployed', args: ['--every', '1m'], cause: /--every 1m is too often/, fix: /--every/ },
    // making the bucket restarts the machine: asked first, and refused without a terminal or --yes
    { why: 'no terminal and no --yes', where: 'deployed', args: ['--every', '1h'], cause: /^Create the bucket test-claw-backups/, fix: /--yes/ },
  ],
  'backup list': [
    NO_PROJECT,
    { why: '--remote without a schedule', where: 'deployed', args: ['--remote'], cause: /has no off-site copies/, fix: /backup schedule --every 1h/ },
  ],
  restore: [{ why: 'no such archive', where: 'deployed', args: ['missing.tgz'], cause: /^no such archive: .*missing\.tgz$/, fix: /clawdfly backup list/ }],
  rollback: [
    NO_PROJECT,
    { why: 'no such release', where: 'deployed', args: ['--to', 'abc'], cause: /there is no release abc/, fix: /clawdfly deploy/ },
    { why: '--verify-timeout not a number', where: 'deployed', args: ['--verify-timeout', 'x'], cause: /--verify-timeout takes a whole number/, fix: /--verify-timeout 300/ },
  ],
  upgrade: [
    NO_PROJECT,
    { why: 'unknown runtime', where: 'deployed', args: ['--to', 'nosuchruntime'], cause: /unknown gateway runtime "nosuchruntime"/, fix: /--to <one of those>/ },
    { why: 'unknown version', where: 'deployed', args: ['--to', 'clawdbot@notaversion'], cause: /unknown gateway runtime "clawdbot@notaversion"/, fix: /--to/ },
  ],
  'ci token': [
    NO_PROJECT,
    { why: '--expiry not in hours', where: 'deployed', args: ['--expiry', 'forever'], cause: /--expiry takes whole hours/, fix: /--expiry 8760h/ },
    { why: '--repo not owner/name', where: 'deployed', args: ['--repo', 'notarepo'], cause: /--repo takes owner\/name/, fix: /--repo my-user\/my-gateway/ },
  ],
};

/** Every runnable command path of the registry: `config push`, `ci token`, `deploy`, `backup`, `backup list`, … */
function commandPaths(): string[] {
  return COMMANDS.flatMap((spec) => [...(spec.load ? [spec.name] : []), ...(spec.subcommands ?? []).map((sub) => `${spec.name} ${sub.name}`)]);
}

let deployment: Deployment;
let project: string;

beforeAll(async () => {
  deployment = await deployed({ init: ['--runtime', 'clawdbot'] });
  project = (await deployed({ init: ['--runtime', 'clawdbot'], deploy: false })).dir;
}, 120_000);

afterAll(() => cleanupAll());

describe('refusals of every command', () => {
  it('every command has a refusal row (a new command needs one)', () => {
    expect(Object.keys(TABLE).sort()).toEqual(commandPaths().sort());
  });

  for (const [command, rows] of Object.entries(TABLE)) {
    for (const row of rows) {
      it(`${command}: ${row.why} (${row.where})`, async () => {
        const dir = row.where === 'no project' ? join(tempDir(), 'none') : row.where === 'project' ? project : deployment.dir;
        if (row.where === 'no project') mkdirSync(dir);
        // a file beside the project the command must not touch either
        if (row.where === 'no project') writeFileSync(join(dir, 'notes.txt'), 'mine\n');
        const before = snapshot(dir);
        const mark = deployment.mark();
        const dash = row.args.indexOf('--');
        const args = dash >= 0 ? [...row.args.slice(0, dash), '--dir', dir, ...row.args.slice(dash)] : [...row.args, '--dir', dir];
        const result = await runCli([...command.split(' '), ...args], { cwd: dir, env: deployment.fake.env });
        expect(result.code, result.stderr).toBe(2);
        const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
        const causeAt = lines.findIndex((l) => l.startsWith('✖ '));
        expect(causeAt, result.stderr).toBeGreaterThanOrEqual(0);
        // one line of cause, then the fix
        expect(lines[causeAt]!.slice(2)).toMatch(row.cause);
        expect(lines[causeAt + 1], result.stderr).toMatch(/^\s+→ /);
        expect(lines[causeAt + 1]).toMatch(row.fix);
        expect(snapshot(dir)).toEqual(before);
        const writes = deployment.fake.invocations().slice(mark).filter((inv) => mayWrite(inv));
        expect(writes.map((w) => w.argv.join(' '))).toEqual([]);
      });
    }
  }
});
