/**
 * `clawdfly devices`: the gateway's own `devices list|approve|reject` run on the machine over
 * `ssh console -C` (gateway.md §3.5: a browser behind Fly's proxy is a remote client and must be
 * approved once). The CLI dials the gateway on the machine's loopback at the port it was started with.
 */
import type { CommandContext } from '../types.js';
import type { devicesSpec } from './spec.js';
import { ClawdflyError, UsageError } from '../../errors.js';
import type { FlyClient } from '../../fly/client.js';
import type { Machine } from '../../fly/json.js';
import { errorText, FlyRemoteExitError } from '../../fly/errors.js';
import { gatewayRpcCli, GATEWAY_USER, PAIRING_REQUEST_TTL_MS } from '../../gateway/runtime.js';
import { flyFor, openProject } from '../../operate/context.js';
import { formatAge, parseDeviceList, table, type DeviceList, type PendingDevice } from '../../operate/devices.js';
import { gatewayPortOf, pickMachine } from '../../operate/machine.js';
import type { Project } from '../../project/project.js';
import { isJsonMode, out, untrusted } from '../../ui/output.js';
import { style } from '../../ui/style.js';

const ACTIONS = ['list', 'approve', 'reject'] as const;
type Action = (typeof ACTIONS)[number];

export async function run({ args, opts }: CommandContext<typeof devicesSpec>): Promise<number> {
  const [actionArg = 'list', requestId, extra] = args;
  const action = actionArg as Action;
  const latest = opts.latest === true;
  if (!ACTIONS.includes(action)) throw new UsageError(`unknown devices action "${actionArg}"`, 'clawdfly devices [list | approve <requestId> | approve --latest | reject <requestId>]', 'bad-action');
  if (extra !== undefined) throw new UsageError(`too many arguments: ${args.join(' ')}`, 'clawdfly devices approve <requestId>', 'bad-args');
  if (action === 'list' && (requestId || latest)) throw new UsageError('list takes no request id', 'clawdfly devices approve --latest', 'bad-args');
  if (action === 'approve' && !requestId && !latest) throw new UsageError('approve needs a request id or --latest', 'clawdfly devices approve --latest  (or: clawdfly devices, then approve <requestId>)', 'bad-args');
  if (requestId && latest) throw new UsageError('give a request id or --latest, not both', 'clawdfly devices approve --latest', 'bad-args');
  if (action === 'reject' && !requestId) throw new UsageError('reject needs a request id', 'clawdfly devices  (lists them), then clawdfly devices reject <requestId>', 'bad-args');
  if (latest && action !== 'approve') throw new UsageError('--latest goes with approve', 'clawdfly devices approve --latest', 'bad-args');

  const project = await openProject(opts);
  const fly = flyFor(project, opts);
  await fly.ensureVersion();
  const { machine } = await pickMachine(fly, { machineId: opts.machine });
  const gateway = new GatewayDevices(fly, project, machine);

  if (action === 'list') {
    const list = await gateway.list();
    if (isJsonMode()) out.json({ ok: true, app: project.app, machine: machine.id, ...jsonList(list) });
    else printList(list, machine.id);
    return 0;
  }

  let target: PendingDevice | undefined;
  let others: PendingDevice[] = [];
  if (latest) {
    const { pending } = await gateway.list();
    [target, ...others] = pending;
    if (!target) {
      throw new ClawdflyError(`no pending device request on ${project.app}`, {
        hint: 'open the Control UI (clawdfly open), paste the token and connect; then run this again within 5 minutes',
        code: 'no-pending-request',
      });
    }
  }
  const id = target?.requestId ?? requestId!;
  const result = await gateway.decide(action, id);
  if (isJsonMode()) {
    out.json({ ok: true, app: project.app, machine: machine.id, action, requestId: id, deviceId: result.deviceId ?? target?.deviceId, client: target?.client, otherPending: others.length });
    return 0;
  }
  const who = untrusted(target ? `${target.client} (device ${short(target.deviceId)})` : `device ${short(result.deviceId ?? '?')}`);
  if (action === 'approve') {
    out.success(`Approved ${who}. Reload the Control UI: this browser stays paired.`);
  } else {
    out.success(`Rejected request ${untrusted(id)} from ${who}.`);
  }
  if (others.length > 0) out.warn(`${others.length} more pending request(s): clawdfly devices  (approve only browsers you recognise)`);
  return 0;
}

class GatewayDevices {
  private readonly port: number;

  constructor(
    private readonly fly: FlyClient,
    private readonly project: Project,
    private readonly machine: Machine,
  ) {
    this.port = gatewayPortOf(machine, project.fly.internalPort);
  }

  private async cli(args: string[]): Promise<string> {
    const argv = gatewayRpcCli(this.project.runtime, this.port, [...args, '--json']);
    try {
      // As the gateway's user: the CLI writes its device identity into the state dir, which root must not own.
      return await this.fly.ssh(argv, { machineId: this.machine.id, user: GATEWAY_USER });
    } catch (error) {
      if (error instanceof FlyRemoteExitError) throw explainRemote(error, args, this.machine.id);
      throw error;
    }
  }

  async list(): Promise<DeviceList> {
    return parseDeviceList(await this.cli(['devices', 'list']));
  }

  async decide(action: 'approve' | 'reject', requestId: string): Promise<{ deviceId?: string }> {
    const stdout = await this.cli(['devices', action, requestId]);
    const found = stdout.match(/"deviceId"\s*:\s*"([^"]+)"/);
    return { deviceId: found?.[1] };
  }
}

function explainRemote(error: FlyRemoteExitError, args: string[], machineId: string): ClawdflyError {
  const lines = error.stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !/Process exited with status/.test(l));
  const text = lines.join(' ');
  if (/unknown request ?id/i.test(text)) {
    return new ClawdflyError(`request ${args[2]} is not pending on the gateway (requests expire after ${PAIRING_REQUEST_TTL_MS / 60_000} minutes)`, {
      hint: 'clawdfly devices  (lists the pending ones), or connect again from the browser',
      code: 'unknown-request',
    });
  }
  if (/ECONNREFUSED|gateway closed|gateway timeout|1006/.test(text)) {
    return new ClawdflyError(`the gateway on machine ${machineId} did not answer`, {
      hint: 'clawdfly logs  (a cold boot takes ~45 s before "listening"), then clawdfly status',
      code: 'gateway-unreachable',
      evidence: lines.slice(0, 3),
    });
  }
  return new ClawdflyError(`the gateway's "${args.slice(0, 2).join(' ')}" failed on machine ${machineId} (exit ${error.remoteStatus})`, {
    hint: 'clawdfly logs  (then clawdfly ssh to look around)',
    code: 'devices-failed',
    evidence: lines.slice(0, 5).length ? lines.slice(0, 5) : [errorText(error.stderr)],
  });
}

/** Every cell as the gateway stored it, which is what a connecting client called itself: shown inertly. */
const inert = (rows: string[][]) => rows.map((row) => row.map((cell) => untrusted(cell)));

const short = (id: string) => (id.length > 16 ? `${id.slice(0, 12)}…` : id);

function jsonList(list: DeviceList, now = Date.now()) {
  return {
    pending: list.pending.map((p) => ({ ...p, ageSeconds: p.ts !== undefined ? Math.max(0, Math.round((now - p.ts) / 1000)) : null })),
    paired: list.paired,
  };
}

function printList(list: DeviceList, machineId: string, now = Date.now()): void {
  if (list.pending.length === 0) {
    out.info(`No pending device requests (machine ${machineId}).`);
    out.info(style.dim('A browser asks to pair when it connects to the Control UI with the token: clawdfly open'));
  } else {
    out.info(style.bold(`Pending requests (${list.pending.length}), newest first:`));
    const rows = [['REQUEST', 'CLIENT', 'ROLE', 'IP', 'AGE'], ...list.pending.map((p) => [p.requestId, `${p.client}${p.repair ? ' (repair)' : ''}`, p.role, p.ip ?? '', p.ts !== undefined ? `${formatAge(now - p.ts)} ago` : '?'])];
    for (const line of table(inert(rows))) out.info(`  ${line}`);
    out.info(`Approve the newest: ${style.cmd('clawdfly devices approve --latest')}  (or approve <REQUEST>; requests expire after 5 minutes)`);
  }
  if (list.paired.length > 0) {
    out.line();
    out.info(style.bold(`Paired devices (${list.paired.length}):`));
    const rows = [['DEVICE', 'CLIENT', 'ROLES', 'IP'], ...list.paired.map((d) => [short(d.deviceId), d.client, d.roles.join(', '), d.ip ?? ''])];
    for (const line of table(inert(rows))) out.info(`  ${line}`);
  }
}
