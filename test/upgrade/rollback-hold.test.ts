/**
 * A rollback across an upgrade puts the older gateway's files back while the newer gateway still runs
 * (ssh needs a started machine), and that gateway opens its stores by path: it would write into the
 * files just put back (openclaw → openclaw: `state/openclaw.sqlite` is the older one's store again).
 * The remote agent's restore holds it first: the watchdog's hold file, then SIGSTOP to its processes. Run here
 * on this host, as the machine's ssh would run it (the same argv, no double), with a stand-in gateway
 * process: a real process running the entry's words in the package dir, and one elsewhere that
 * must be left alone.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import type { FlyClient } from '../../src/fly/client.js';
import { discardAside, restoreStateSnapshot } from '../../src/release/state-snapshot.js';

/** ssh console -C on this host: the argv run as it is, the agent on its stdin (it keeps root when the dir is root's). */
function sshOnThisHost(env: NodeJS.ProcessEnv = process.env): FlyClient {
  return {
    ssh: (argv: string[], opts: { input?: Buffer | string } = {}) =>
      new Promise<string>((resolve, reject) => {
        const child = execFile(argv[0]!, argv.slice(1), { encoding: 'utf8', env }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
        child.stdin!.end(opts.input ?? '');
      }),
  } as unknown as FlyClient;
}
const hostSsh = sshOnThisHost();

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** A process whose command line holds `dist/index.js gateway`, in `cwd`. */
function standIn(cwd: string): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'dist/index.js', 'gateway', '--port', '3000'], { cwd, stdio: 'ignore' });
  children.push(child);
  return child;
}

/** The process's state letter in /proc/<pid>/stat (T: stopped). */
function processState(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[0]!;
}

describe('a rollback holds the newer gateway before it puts the older one\'s state back', () => {
  it('hold file written, the gateway in its package dir stopped (SIGSTOP), another process left alone; the hold released after', async () => {
    const root = tempDir('clawdfly-hold-');
    const stateDir = join(root, 'data');
    const snapshot = join(stateDir, '.clawdfly-pre-upgrade-Ab12Cd34');
    mkdirSync(join(stateDir, 'state'), { recursive: true });
    mkdirSync(join(stateDir, 'tmp'), { recursive: true });
    writeFileSync(join(stateDir, 'state', 'openclaw.sqlite'), 'store of the newer gateway');
    mkdirSync(join(snapshot, 'state'), { recursive: true });
    writeFileSync(join(snapshot, 'state', 'openclaw.sqlite'), 'store of the older gateway');
    const packageDir = join(root, 'app', 'node_modules', 'openclaw');
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(packageDir, { recursive: true });
    mkdirSync(elsewhere, { recursive: true });
    const gateway = standIn(packageDir);
    const other = standIn(elsewhere);
    expect(processState(gateway.pid!)).not.toBe('T');
    const holdPath = 'tmp/clawdfly-watchdog.hold';
    const holdFile = join(stateDir, holdPath);

    const aside = await restoreStateSnapshot(hostSsh, stateDir, 'm1', snapshot, { holdPath, packageDir, entry: 'dist/index.js' });

    expect(processState(gateway.pid!)).toBe('T');
    expect(processState(other.pid!)).not.toBe('T');
    expect(readFileSync(holdFile, 'utf8')).toMatch(/^rollback: the newer gateway is held/);
    expect(readFileSync(join(stateDir, 'state', 'openclaw.sqlite'), 'utf8')).toBe('store of the older gateway');
    expect(readFileSync(join(aside, 'state', 'openclaw.sqlite'), 'utf8')).toBe('store of the newer gateway');

    // once the older gateway is verified: the set-aside files and the hold go
    await discardAside(hostSsh, stateDir, 'm1', aside, [], holdPath);
    expect(existsSync(holdFile)).toBe(false);
    expect(existsSync(aside)).toBe(false);
    expect(readFileSync(join(stateDir, 'state', 'openclaw.sqlite'), 'utf8')).toBe('store of the older gateway');
  });

  it('looks for the gateway only in its process root: under flyctl\'s test double (a fake process table) no process of this host is stopped', async () => {
    const root = tempDir('clawdfly-hold-double-');
    const stateDir = join(root, 'data');
    const snapshot = join(stateDir, '.clawdfly-pre-upgrade-Ef56Gh78');
    mkdirSync(join(snapshot, 'state'), { recursive: true });
    mkdirSync(join(stateDir, 'state'), { recursive: true });
    const packageDir = join(root, 'app', 'node_modules', 'openclaw');
    mkdirSync(packageDir, { recursive: true });
    const gateway = standIn(packageDir);
    const fakeProc = join(root, 'proc');
    mkdirSync(join(fakeProc, '4242'), { recursive: true });

    await restoreStateSnapshot(sshOnThisHost({ ...process.env, CLAWDFLY_TEST_PROC_ROOT: fakeProc }), stateDir, 'm1', snapshot, { holdPath: 'tmp/clawdfly-watchdog.hold', packageDir, entry: 'dist/index.js' });

    expect(processState(gateway.pid!)).not.toBe('T');
    // the hold file stays on the (double's) volume
    expect(readFileSync(join(stateDir, 'tmp', 'clawdfly-watchdog.hold'), 'utf8')).toMatch(/^rollback: the newer gateway is held/);
  });
});
