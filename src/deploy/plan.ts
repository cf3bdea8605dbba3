/**
 * Observe what exists on Fly, compare it with the project, and turn the difference into an ordered
 * plan: each step says what it will do, why, and the exact flyctl argv (secret values never appear:
 * `secrets import` shows its stdin as `NAME=***`, and the step carries the names, not the values).
 * The plan is the program: apply runs these argv as they are (deploy/apply.ts), `--dry-run` prints
 * them. The plan is recomputed on every run, so an interrupted deploy is resumed by running deploy again.
 */
import { ClawdflyError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import { FlyAppNotFoundError } from '../fly/errors.js';
import type { IpAddress, Machine, SecretInfo, Volume } from '../fly/json.js';
import type { Project } from '../project/project.js';
import { PROJECT_FILES } from '../project/paths.js';
import { appUrl, classifyIps, describeIps, GOING_PRIVATE_BREAKS } from '../project/network.js';
import { readConfigCommand } from '../remote/config-transfer.js';
import { AGENT_BUNDLE } from '../remote/agent-call.js';
import type { LocalFacts } from './preflight.js';
import { buildInputsHash, imageRefOf, secretsSetHash, valueHash, type DeployState } from './state.js';

export type StepId = 'app' | 'network' | 'volume' | 'secrets' | 'deploy' | 'config' | 'verify';

export interface PlanStep {
  id: StepId;
  /** What happens: a mutation ('create' | 'set' | 'deploy' | 'release'), a check ('ensure' | 'check') or 'skip'. */
  action: 'create' | 'set' | 'deploy' | 'release' | 'ensure' | 'check' | 'skip';
  reason: string;
  /** flyctl argv (without the binary), in order. */
  argv: string[][];
  /** Lines fed to stdin, values shown as ***. */
  stdin?: string[];
  /**
   * The secrets whose values apply sends on stdin as `NAME=value` lines (references: the values
   * come from the project's secrets when apply runs, never from the plan).
   */
  stdinSecrets?: string[];
  /** Working directory of the flyctl call, when it matters (deploy). */
  cwd?: string;
}

export interface Observed {
  appExists: boolean;
  volumes: Volume[];
  secrets: SecretInfo[];
  machines: Machine[];
  ips: IpAddress[];
}

export interface Plan {
  app: string;
  region: string;
  url: string;
  steps: PlanStep[];
  /** Secrets that will be (re)set, by name. */
  secretsToSet: string[];
  inputsHash: string;
  secretsHash: string;
  /** The machine that runs the gateway now (before apply), if any. */
  machine?: Machine;
  appCreated: boolean;
}

/** Reads that fail with "app not found" simply mean "nothing there yet". */
async function orEmpty<T>(read: Promise<T[]>): Promise<T[]> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof FlyAppNotFoundError) return [];
    throw error;
  }
}

/** The five reads, in parallel. */
export function observe(fly: FlyClient): Promise<Observed> {
  return Promise.all([fly.status(), orEmpty(fly.listVolumes()), orEmpty(fly.listSecrets()), orEmpty(fly.machines()), orEmpty(fly.listIps())]).then(
    ([status, volumes, secrets, machines, ips]) => ({ appExists: status !== undefined, volumes, secrets, machines, ips }),
  );
}

const GONE = new Set(['destroyed', 'destroying']);

/** In a step's argv, the machine a first deploy creates (its id is known only then). */
export const MACHINE_PLACEHOLDER = '<machine>';

/** The gateway's machine: the Fly Launch machine of process group `app` (the one deploy manages). */
export function gatewayMachine(machines: Machine[]): Machine | undefined {
  const live = machines.filter((m) => !GONE.has(m.state));
  const launch = live.filter((m) => m.config?.metadata?.['fly_platform_version'] === 'v2' && (m.config?.metadata?.['fly_process_group'] ?? 'app') === 'app');
  return launch[0] ?? live[0];
}

export async function computePlan(fly: FlyClient, project: Project, facts: LocalFacts, observed: Observed, state: DeployState, opts: { org?: string; localOnly?: boolean }): Promise<Plan> {
  const steps: PlanStep[] = [];
  const app = project.app;

  // app
  steps.push(
    observed.appExists
      ? { id: 'app', action: 'skip', reason: 'exists', argv: [] }
      : { id: 'app', action: 'create', reason: 'no app of this name in your account', argv: [fly.createAppArgv(opts.org)] },
  );

  steps.push(networkStep(fly, project, observed));

  // volume: never a second one. flyctl attaches a volume in primary_region only; an unattached one
  // elsewhere makes its first deploy fail ("needs an unattached volume … in region"), so refuse that here.
  const named = observed.volumes.filter((v) => v.name === facts.volume && !['destroyed', 'pending_destroy', 'destroying'].includes(v.state ?? ''));
  const inRegion = named.filter((v) => v.region === facts.region);
  if (inRegion.length > 0) {
    steps.push({ id: 'volume', action: 'skip', reason: `${inRegion[0]!.id} in ${facts.region}${inRegion.length > 1 ? ` (and ${inRegion.length - 1} more)` : ''}`, argv: [] });
  } else if (named.length > 0) {
    const where = named.map((v) => `${v.id} in ${v.region}${v.attached_machine_id ? ` (attached to ${v.attached_machine_id})` : ''}`);
    const other = named[0]!;
    throw new ClawdflyError(
      `volume "${facts.volume}" exists only outside primary_region ${facts.region}: the machine must run where its volume is, so Fly's deploy would fail ("needs an unattached volume named '${facts.volume}' in region '${facts.region}'")`,
      {
        hint: `set primary_region = "${other.region}" in fly.toml to keep that volume's data, or remove it first: fly volumes destroy ${other.id} -a ${app}`,
        code: 'volume-wrong-region',
        evidence: where,
      },
    );
  } else {
    steps.push({
      id: 'volume',
      action: 'create',
      reason: `no volume "${facts.volume}" in ${facts.region}`,
      argv: [fly.createVolumeArgv(facts.volume, facts.region, facts.volumeSizeGb, { size: facts.vmSize, memoryMb: facts.memoryMb })],
    });
  }

  const tokenName = project.runtime.env.gatewayToken;
  if (!facts.secrets[tokenName] && !observed.secrets.some((s) => s.name === tokenName)) {
    throw new ClawdflyError(`${tokenName} is neither in the environment nor set on Fly: the gateway refuses to bind beyond loopback without it`, {
      hint: `set ${tokenName} (a repository secret in CI; its value: clawdfly token, in the project on your machine), or deploy once from there`,
      code: 'no-gateway-token',
      exitCode: 2,
    });
  }

  // secrets: set the ones missing on Fly, changed locally since we set them, or changed on Fly since.
  const remote = new Map(observed.secrets.map((s) => [s.name, s]));
  const toSet: string[] = [];
  const why: string[] = [];
  for (const [name, value] of Object.entries(facts.secrets)) {
    const had = remote.get(name);
    const record = state.secrets[name];
    if (!had) {
      toSet.push(name);
      why.push(`${name} missing`);
    } else if (!record || record.valueHash !== valueHash(state.salt, value)) {
      toSet.push(name);
      why.push(`${name} ${record ? 'changed' : 'not set by clawdfly'}`);
    } else if (record.digest && had.digest && record.digest !== had.digest) {
      toSet.push(name);
      why.push(`${name} changed on Fly`);
    }
  }
  steps.push(
    toSet.length > 0
      ? { id: 'secrets', action: 'set', reason: why.join(', '), argv: [fly.secretsImportArgv(true)], stdin: toSet.map((n) => `${n}=***`), stdinSecrets: toSet }
      : { id: 'secrets', action: 'skip', reason: `${Object.keys(facts.secrets).length} unchanged`, argv: [] },
  );

  // deploy: only when the image inputs, the secrets or the machine differ from what the last deploy left.
  const inputsHash = await buildInputsHash(project.dir);
  const secretsHash = secretsSetHash(state.salt, facts.secrets);
  const machine = gatewayMachine(observed.machines);
  const record = state.deploy;
  const staged = observed.secrets.filter((s) => s.status && /^(staged|partial)$/i.test(s.status)).map((s) => s.name);
  let deployReason: string | undefined;
  if (!machine) deployReason = 'no machine yet';
  else if (!record) deployReason = 'no record of a deploy by clawdfly';
  else if (machine.state !== 'started') deployReason = `machine ${machine.id} is ${machine.state}`;
  else if (record.inputsHash !== inputsHash) deployReason = `build inputs changed (Dockerfile, ${PROJECT_FILES.runtimeDir}/, fly.toml)`;
  else if (toSet.length > 0 || record.secretsHash !== secretsHash) deployReason = 'secrets changed';
  else if (staged.length > 0) deployReason = `staged secrets not applied yet (${staged.join(', ')})`;
  // an empty machine id: `fly deploy` finished and the run was interrupted before it saw the machine
  else if (record.machineId !== '' && (record.machineId !== machine.id || record.imageRef !== imageRefOf(machine))) deployReason = 'the machine runs another image than clawdfly deployed';
  steps.push(
    deployReason
      ? { id: 'deploy', action: 'deploy', reason: deployReason, argv: [fly.deployArgv({ config: PROJECT_FILES.flyToml, localOnly: opts.localOnly, noPublicIps: project.exposure === 'private' })], cwd: project.dir }
      : { id: 'deploy', action: 'skip', reason: `unchanged since ${record!.at}`, argv: [] },
  );

  // config: the image seeds it on first boot; make sure the live file equals the local one.
  steps.push({
    id: 'config',
    action: 'ensure',
    reason: `${project.remoteConfigPath} must equal ${project.runtime.configFileName} (written over ssh only when missing or different)`,
    // the read apply runs; the write that may follow depends on what it reads
    argv: [fly.sshArgv(readConfigCommand(project), machine?.id ?? MACHINE_PLACEHOLDER)],
    stdin: [`<the remote agent: ${AGENT_BUNDLE.join('/')} from clawdfly's package>`],
  });
  steps.push({
    id: 'verify',
    action: 'check',
    reason: `machine started, the gateway listens on 0.0.0.0:${facts.port}${project.exposure === 'private' ? ` (private: ${appUrl(app, 'private')} is reached with clawdfly open)` : `, ${appUrl(app)} answers`}`,
    // polled until the gateway is up (or the window closes): the machines, and the logs (the app's
    // until the verifier has seen which machine it is, then that machine's)
    argv: [fly.machinesArgv(), fly.recentLogsArgv(), fly.recentLogsArgv(machine?.id ?? MACHINE_PLACEHOLDER)],
  });

  return {
    app,
    region: facts.region,
    url: appUrl(app, project.exposure),
    steps,
    secretsToSet: toSet,
    inputsHash,
    secretsHash,
    machine,
    appCreated: !observed.appExists,
  };
}

/**
 * The app's addresses as the project wants them. Private: a Flycast address and no public one
 * (releasing them is a mutation the user confirms: it breaks the public URL). Public: an app that
 * was private gets the public pair back; a brand-new app gets it from its first deploy.
 */
function networkStep(fly: FlyClient, project: Project, observed: Observed): PlanStep {
  const ips = classifyIps(observed.ips);
  if (project.exposure === 'private') {
    const argv = [
      ...(ips.flycast.length === 0 ? [fly.allocatePrivateIpArgv()] : []),
      ...ips.public.map((ip) => fly.releaseIpArgv(ip.address)),
    ];
    if (argv.length === 0) return { id: 'network', action: 'skip', reason: `private: Flycast ${describeIps(ips.flycast)}, no public address`, argv };
    const reasons = [
      ...(ips.flycast.length === 0 ? ['allocate a private Flycast address'] : []),
      ...(ips.public.length > 0 ? [`release the public addresses ${describeIps(ips.public)}: ${GOING_PRIVATE_BREAKS.replace('<app>', project.app)}`] : []),
    ];
    return { id: 'network', action: ips.public.length > 0 ? 'release' : 'create', reason: `private: ${reasons.join('; ')}`, argv };
  }
  const firstDeployAllocates = observed.ips.length === 0 && observed.machines.length === 0;
  if (ips.public.length > 0 || firstDeployAllocates || !observed.appExists) {
    return { id: 'network', action: 'skip', reason: ips.public.length > 0 ? `public: ${describeIps(ips.public)}` : 'public: the first deploy allocates the addresses', argv: [] };
  }
  return { id: 'network', action: 'create', reason: 'public: the app has no public address (it was private); allocate a dedicated IPv6 and a shared IPv4', argv: fly.allocatePublicIpsArgv() };
}

/**
 * Fly computes a secret's digest itself; we learn it the first time we observe a secret whose
 * local value is still the one we set, and from then on a different digest means "changed on Fly".
 */
export function adoptDigests(state: DeployState, observed: Observed, facts: LocalFacts): boolean {
  let changed = false;
  for (const info of observed.secrets) {
    const record = state.secrets[info.name];
    const value = facts.secrets[info.name];
    if (!record || record.digest || !info.digest || value === undefined) continue;
    if (record.valueHash !== valueHash(state.salt, value)) continue;
    record.digest = info.digest;
    changed = true;
  }
  return changed;
}

/** `flyctl a b 'c d'` for people to read and copy. */
export function showArgv(argv: string[]): string {
  return ['flyctl', ...argv].map((a) => (a === '' || /[\s"'$`\\|&;<>()*?]/.test(a) ? `'${a.replace(/'/g, `'"'"'`)}'` : a)).join(' ');
}

export function planToJson(plan: Plan): unknown {
  return {
    app: plan.app,
    url: plan.url,
    region: plan.region,
    steps: plan.steps.map((s) => ({ id: s.id, action: s.action, reason: s.reason, argv: s.argv.map((a) => ['flyctl', ...a]), ...(s.stdin ? { stdin: s.stdin } : {}), ...(s.cwd ? { cwd: s.cwd } : {}) })),
  };
}
