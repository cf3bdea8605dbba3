/**
 * Choosing the machine an operate command talks to, and reading what its config and events say.
 * The app runs one gateway machine (process group `app`); ssh only reaches started machines.
 */
import { ClawdflyError, UsageError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import { exitOf, type Machine, type MachineEvent } from '../fly/json.js';
import { WATCHDOG_EXIT_CODE } from '../gateway/watchdog.js';
import { commandPort } from '../project/render.js';
import { isMemoryExit } from '../gateway/logs.js';

const ACTIVE = (m: Machine) => !['destroyed', 'destroying'].includes(m.state);
const GATEWAY_GROUP = 'app';

export interface PickedMachine {
  machine: Machine;
  /** Other started gateway machines (a second one is unusual; we say which we used). */
  others: Machine[];
}

/**
 * The gateway machine: `--machine ID` if given, else the started machine of process group `app`.
 * `started: false` accepts a stopped machine too (e.g. `machine update` starts it).
 */
export async function pickMachine(fly: FlyClient, opts: { machineId?: string; started?: boolean } = {}): Promise<PickedMachine> {
  return chooseMachine(await fly.machines(), fly.app, opts);
}

export function chooseMachine(all: Machine[], app: string, opts: { machineId?: string; started?: boolean } = {}): PickedMachine {
  const fly = { app };
  const requireStarted = opts.started !== false;
  const machines = all.filter(ACTIVE);
  if (opts.machineId) {
    const machine = machines.find((m) => m.id === opts.machineId);
    if (!machine) {
      throw new UsageError(
        `no machine ${opts.machineId} in app ${fly.app}${machines.length ? ` (machines: ${machines.map((m) => m.id).join(', ')})` : ''}`,
        'clawdfly status  (lists the machine), then --machine ID',
        'no-such-machine',
      );
    }
    if (requireStarted && machine.state !== 'started') throw notStarted(fly.app, machine);
    return { machine, others: [] };
  }
  if (machines.length === 0) {
    throw new ClawdflyError(`app ${fly.app} has no machine: it has not been deployed yet`, { hint: 'clawdfly deploy', code: 'not-deployed' });
  }
  const group = (m: Machine) => m.config?.metadata?.['fly_process_group'] ?? GATEWAY_GROUP;
  const gateway = machines.filter((m) => group(m) === GATEWAY_GROUP);
  const pool = gateway.length > 0 ? gateway : machines;
  const started = pool.filter((m) => m.state === 'started');
  if (started.length > 0) return { machine: started[0]!, others: started.slice(1) };
  if (!requireStarted) return { machine: pool[0]!, others: pool.slice(1) };
  throw notStarted(fly.app, pool[0]!);
}

function notStarted(app: string, machine: Machine): ClawdflyError {
  return new ClawdflyError(`machine ${machine.id} of ${app} is ${machine.state}, not started (ssh reaches started machines only)`, {
    hint: `fly machine start ${machine.id} -a ${app}  (then clawdfly status; clawdfly doctor if it stops again)`,
    code: 'machine-not-started',
    evidence: lastExit(machine) ? [`last exit: ${describeExit(lastExit(machine)!)}`] : [],
  });
}

/** The port the gateway was started with on this machine (its command line), else fly.toml's. */
export function gatewayPortOf(machine: Machine, fallback: number | undefined): number {
  const cmd = machine.config?.init?.cmd;
  return commandPort(cmd ? cmd.join(' ') : undefined) ?? fallback ?? 3000;
}

export interface ExitInfo {
  at?: string;
  exitCode?: number;
  oomKilled: boolean;
  requestedStop: boolean;
  signal?: number;
}

/** The newest exit event of a machine (events are newest first in flyctl's output; we sort to be sure). */
export function lastExit(machine: Machine): ExitInfo | undefined {
  return newestExit(machine, () => true);
}

/** The newest exit with the watchdog's code: its last restart of a frozen gateway. */
export function lastWatchdogRestart(machine: Machine): ExitInfo | undefined {
  return newestExit(machine, (x) => (x.exit_code ?? x.guest_exit_code) === WATCHDOG_EXIT_CODE);
}

function newestExit(machine: Machine, wanted: (x: NonNullable<ReturnType<typeof exitOf>>) => boolean): ExitInfo | undefined {
  const events = [...(machine.events ?? [])].sort((a, b) => (b.timestamp ?? 0) - (a.timestamp ?? 0));
  const exit = events.find((e: MachineEvent) => e.type === 'exit' && exitOf(e) && wanted(exitOf(e)!));
  if (!exit) return undefined;
  const x = exitOf(exit)!;
  return {
    at: x.exited_at ?? (exit.timestamp ? new Date(exit.timestamp).toISOString() : undefined),
    exitCode: x.exit_code ?? x.guest_exit_code,
    oomKilled: x.oom_killed === true,
    requestedStop: x.requested_stop === true,
    signal: typeof x.signal === 'number' && x.signal >= 0 ? x.signal : undefined,
  };
}

/** One line a person understands: why the gateway last stopped. */
export function describeExit(exit: ExitInfo): string {
  const code = exit.exitCode;
  let cause: string;
  if (exit.oomKilled) cause = 'out of memory (killed by the kernel)';
  else if (isMemoryExit(code)) cause = code === 134 ? 'out of memory (V8 heap limit, SIGABRT)' : 'killed (SIGKILL, usually out of memory)';
  else if (exit.requestedStop) cause = 'stopped on request (deploy, update or restart)';
  else if (code === 0) cause = 'exited normally';
  else if (code === 1) cause = 'crashed (exit 1: see clawdfly logs)';
  else if (code === WATCHDOG_EXIT_CODE) cause = 'restarted by the watchdog: the gateway stopped answering its health check (clawdfly doctor)';
  else cause = `exited with code ${code ?? 'unknown'}`;
  return `${cause}${code !== undefined ? ` [exit ${code}]` : ''}${exit.at ? ` at ${exit.at}` : ''}`;
}
