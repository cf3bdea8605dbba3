/**
 * `clawdfly status`: one screen from three flyctl reads (status, machines list, volumes list).
 * The runtime version is the project's (the image is built from it); the restart cause is the
 * newest exit event of the gateway machine (exitOf: MonitorEvent first, like flyctl).
 */
import type { CommandContext } from '../types.js';
import type { statusSpec } from './spec.js';
import { ClawdflyError } from '../../errors.js';
import type { Machine, Volume } from '../../fly/json.js';
import { flyFor, openProject } from '../../operate/context.js';
import { appUrl, classifyIps, describeIps } from '../../project/network.js';
import { chooseMachine, describeExit, lastExit, lastWatchdogRestart } from '../../operate/machine.js';
import { isJsonMode, out } from '../../ui/output.js';
import { style } from '../../ui/style.js';
import { imageRefOf } from '../../deploy/state.js';
import { currentAndPrevious, readReleases, ReleasesRefusedError, type ReleaseRecord } from '../../release/releases.js';
import { describeInterruptedUpgrade, readUpgradeJournal } from '../../release/journal.js';

export async function run({ opts }: CommandContext<typeof statusSpec>): Promise<number> {
  const project = await openProject(opts);
  const fly = flyFor(project, opts);
  const app = await fly.status();
  if (!app) {
    throw new ClawdflyError(`app ${project.app} does not exist on Fly.io yet (or this account cannot see it)`, { hint: 'clawdfly deploy', code: 'app-not-found' });
  }
  const [machines, volumes, ips] = await Promise.all([fly.machines(), fly.listVolumes(), fly.listIps()]);
  const addresses = classifyIps(ips);
  const active = machines.filter((m) => !['destroyed', 'destroying'].includes(m.state));
  const machine = active.length > 0 ? chooseMachine(active, project.app, { started: false }).machine : undefined;
  const mount = machine?.config?.mounts?.[0];
  const volume: Volume | undefined = mount?.volume ? volumes.find((v) => v.id === mount.volume) : undefined;
  const exit = machine ? lastExit(machine) : undefined;
  const interrupted = await interruptedUpgradeFacts(project.dir, project.app);
  const watchdog = machine ? lastWatchdogRestart(machine) : undefined;
  const report = {
    ok: machine?.state === 'started' && !interrupted,
    app: project.app,
    appStatus: app.status ?? null,
    url: appUrl(project.app, project.exposure),
    // As the project wants it, and as Fly has it (a public address on a private project is a leak).
    network: {
      wanted: project.exposure,
      actual: addresses.public.length > 0 ? 'public' : addresses.flycast.length > 0 ? 'private' : 'none',
      public: addresses.public.map((ip) => ({ address: ip.address, type: ip.type })),
      flycast: addresses.flycast.map((ip) => ({ address: ip.address, type: ip.type })),
    },
    machine: machine ? machineFacts(machine) : null,
    otherMachines: active.filter((m) => m !== machine).map((m) => ({ id: m.id, state: m.state, region: m.region ?? null })),
    runtime: { id: project.runtime.id, version: project.runtime.displayVersion, source: 'project' },
    volume: mount
      ? { id: mount.volume ?? null, name: volume?.name ?? mount.name ?? null, sizeGb: volume?.size_gb ?? mount.size_gb ?? null, region: volume?.region ?? null, path: mount.path }
      : null,
    unattachedVolumes: volumes.filter((v) => !v.attached_machine_id).map((v) => ({ id: v.id, name: v.name, region: v.region })),
    lastExit: exit ? { ...exit, cause: describeExit(exit) } : null,
    lastWatchdogRestart: watchdog ? { at: watchdog.at ?? null, exitCode: watchdog.exitCode } : null,
    releases: await releaseFacts(project.dir, project.app, machine),
    // An upgrade that stopped half-way: the runtime above is what the local files say, not necessarily what runs.
    interruptedUpgrade: interrupted ?? null,
  };

  if (isJsonMode()) {
    out.json(report);
    return 0;
  }
  const row = (label: string, value: string) => out.info(`  ${label.padEnd(12)} ${value}`);
  out.info(style.bold(`${project.app}`) + style.dim(`  (Fly app status: ${report.appStatus ?? 'unknown'})`));
  row('URL', report.url + (project.exposure === 'private' ? style.dim('  (private network only: clawdfly open)') : ''));
  const network = report.network;
  // A private app whose files say public: a bare `clawdfly deploy` would publish it, so that is not what status suggests.
  const mismatch = network.wanted === 'public' && network.actual === 'private'
    ? ' (the project files say public: clawdfly deploy would give it public addresses; to keep it private: clawdfly init --private)'
    : ` (the project says ${network.wanted}: clawdfly deploy)`;
  const networkText = `${network.actual}${network.actual === network.wanted ? '' : mismatch}  ${describeIps([...addresses.public, ...addresses.flycast])}`;
  row('Network', network.actual === network.wanted ? networkText : style.warn(networkText));
  if (!machine) {
    row('Machine', style.warn('none — not deployed yet (clawdfly deploy)'));
  } else {
    const m = report.machine!;
    const state = m.state === 'started' ? style.ok(m.state) : style.bad(m.state);
    row('Machine', `${m.id}  ${state}${m.checks ? `  checks: ${m.checks}` : ''}`);
    row('Region', m.region ?? '?');
    row('Memory', m.memoryMb ? `${m.memoryMb} MB (${m.cpus ?? '?'} ${m.cpuKind ?? ''} CPU)` : '?');
    row('Image', m.image ?? '?');
  }
  row('Runtime', `${report.runtime.id} ${style.dim('(from the project)')}`);
  if (interrupted) {
    row('Upgrade', style.warn(interrupted.summary));
    row('', `next: ${interrupted.next}`);
  }
  row('Volume', report.volume ? `${report.volume.name ?? '?'} ${report.volume.id ?? ''} ${report.volume.sizeGb ?? '?'} GB at ${report.volume.path}` : style.warn('none attached: state is lost on restart'));
  const rel = report.releases;
  row('Release', rel.current ? `v${rel.current.version} ${style.dim(`${rel.current.kind}${rel.current.rolledBackTo ? ` to v${rel.current.rolledBackTo}` : ''}${rel.current.upgradedFrom ? ` from ${rel.current.upgradedFrom}` : ''} ${rel.current.at}`)}${rel.current.running ? '' : style.warn('  (the machine runs another image: clawdfly deploy)')}` : style.dim('none recorded (clawdfly deploy records one)'));
  row('Rollback to', rel.rollbackTo ? `v${rel.rollbackTo.version} ${style.dim(`${rel.rollbackTo.imageRef}  (clawdfly rollback)`)}` : style.dim('nothing earlier recorded'));
  row('Last exit', report.lastExit ? report.lastExit.cause : style.dim('none recorded'));
  if (report.lastWatchdogRestart) row('Watchdog', style.warn(`restarted a frozen gateway at ${report.lastWatchdogRestart.at ?? '?'}  (clawdfly doctor names why)`));
  for (const other of report.otherMachines) row('Also', `${other.id} ${other.state} ${other.region ?? ''}`);
  if (report.unattachedVolumes.length > 0) row('Unattached', report.unattachedVolumes.map((v) => `${v.name} ${v.id} (${v.region})`).join(', '));
  return 0;
}

function machineFacts(m: Machine) {
  const checks = m.checks ?? [];
  const passing = checks.filter((c) => c.status === 'passing').length;
  return {
    id: m.id,
    state: m.state,
    region: m.region ?? null,
    memoryMb: m.config?.guest?.memory_mb ?? null,
    cpus: m.config?.guest?.cpus ?? null,
    cpuKind: m.config?.guest?.cpu_kind ?? null,
    image: m.config?.image ?? (m.image_ref ? `${m.image_ref.repository ?? ''}:${m.image_ref.tag ?? ''}` : null),
    checks: checks.length ? `${passing}/${checks.length} passing` : null,
  };
}

async function interruptedUpgradeFacts(dir: string, app: string) {
  const journal = await readUpgradeJournal(dir, app);
  if (!journal) return undefined;
  return { from: journal.from, to: journal.to, startedAt: journal.startedAt, stage: journal.stage, ...describeInterruptedUpgrade(journal, await readReleases(dir, app, { refused: 'drop' })) };
}

/** From .clawdfly/releases.json: the release the machine runs and the one `clawdfly rollback` goes to. */
async function releaseFacts(dir: string, app: string, machine: Machine | undefined) {
  // status only reads: a refused record (a hand-edited file) is said, and left out of what is shown
  const history = await readReleases(dir, app).catch(async (error: unknown) => {
    if (!(error instanceof ReleasesRefusedError)) throw error;
    out.warn(`${error.message.replace(/; nothing was deployed$/, '')}: left out (rollback refuses it)`);
    return readReleases(dir, app, { refused: 'drop' });
  });
  const { current, previous } = currentAndPrevious(history);
  const brief = (r: ReleaseRecord) => ({ version: r.version, imageRef: r.imageRef, runtime: r.runtime, kind: r.kind, rolledBackTo: r.rolledBackTo ?? null, upgradedFrom: r.upgradedFrom ?? null, at: r.at });
  return {
    current: current ? { ...brief(current), running: machine ? imageRefOf(machine) === current.imageRef : false } : null,
    rollbackTo: previous ? brief(previous) : null,
  };
}
