/**
 * A set-up call of flyctl (what the user ran before the test proper: `fly apps create`, `fly
 * secrets import`, `fly deploy`), carried by the double's state machine in this process
 * (test/fakefly/lib/in-process.mjs): the same execute() as bin/flyctl and the same invocation
 * record, without a process start for each call. Calls that need a real process (ssh, logs, proxy,
 * the podman backend) still go to bin/flyctl. Returns stdout; throws on a non-zero exit.
 */
import { spawnSync } from 'node:child_process';
// @ts-expect-error plain ESM without types
import { runFakeflyInProcess, runsInProcess } from '../fakefly/lib/in-process.mjs';

export async function flySetup(env: Record<string, string>, args: string[], opts: { cwd: string; input?: string }): Promise<string> {
  const input = opts.input ?? '';
  const r: { stdout: string; stderr: string; exitCode: number | null } = runsInProcess(args, env)
    ? await runFakeflyInProcess(args, { env, cwd: opts.cwd, input })
    : (({ stdout, stderr, status }) => ({ stdout, stderr, exitCode: status }))(spawnSync('flyctl', args, { cwd: opts.cwd, env, input, encoding: 'utf8' }));
  if (r.exitCode !== 0) throw new Error(`flyctl ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}
