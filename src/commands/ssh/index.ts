/** `clawdfly ssh`: `fly ssh console` on the right app and machine, with the terminal attached. */
import type { CommandContext } from '../types.js';
import type { sshSpec } from './spec.js';
import { UsageError } from '../../errors.js';
import { STATE_DIR } from '../../gateway/runtime.js';
import { flyFor, notThisProjectsApp, openProject } from '../../operate/context.js';
import { pickMachine } from '../../operate/machine.js';
import { out } from '../../ui/output.js';

export async function run({ args, opts }: CommandContext<typeof sshSpec>): Promise<number> {
  const command = args.length > 0 ? args : undefined;
  if (!command && !(process.stdin.isTTY && process.stdout.isTTY)) {
    throw new UsageError('clawdfly ssh opens an interactive shell, and there is no terminal here', `run it in a terminal, or give a command: clawdfly ssh -- ls -la ${STATE_DIR}`, 'not-interactive');
  }
  const project = await openProject(opts);
  const fly = flyFor(project, opts);
  await fly.ensureVersion();
  const { machine, others } = await pickMachine(fly, { machineId: opts.machine }).catch((error: unknown) => {
    throw notThisProjectsApp(error, project);
  });
  if (others.length > 0) out.warn(`${others.length + 1} started machines; using ${machine.id} (pick another with --machine ID)`);
  const code = await fly.sshInteractive({ machineId: machine.id, command, pty: opts.pty === true });
  if (code !== 0 && command) out.verbose(`ssh exited with code ${code} (flyctl reports any remote failure as 1)`);
  return code;
}
