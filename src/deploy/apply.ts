/**
 * Carries out a plan, step by step, recording in .clawdfly/state.json what each successful
 * mutation did so a re-run recomputes a smaller plan. A mutation runs its step's argv exactly as
 * planned (the plan is the program: what --dry-run printed is what runs), secrets named by the
 * step sent on stdin. Independent steps run concurrently (volume
 * and secrets); secrets travel on stdin only; the config reaches the machine without a restart.
 */
import { redact } from '../ui/redact.js';
import type { FlyClient } from '../fly/client.js';
import type { Machine } from '../fly/json.js';
import type { Project } from '../project/project.js';
import { formatSecretsImport } from '../fly/secrets-import.js';
import { configsEquivalent, pushConfigFile, readRemoteConfig } from '../remote/config-transfer.js';
import { isJsonMode, out } from '../ui/output.js';
import type { Progress } from '../ui/progress.js';
import type { LocalFacts } from './preflight.js';
import type { Plan, PlanStep, StepId } from './plan.js';
import { imageRefOf, valueHash, writeDeployState, type DeployState } from './state.js';
import { Verifier, type VerifyResult } from './verify.js';

export interface ApplyInput {
  fly: FlyClient;
  project: Project;
  facts: LocalFacts;
  plan: Plan;
  state: DeployState;
  progress: Progress;
  org?: string;
  localOnly?: boolean;
  /** --verify-timeout, in ms: how long the gateway may take to listen. */
  verifyTimeoutMs?: number;
}

export interface ApplyResult {
  machine: Machine;
  verify: VerifyResult;
  /** Remote changes made: app, volume, secrets, deploy, config. */
  mutations: StepId[];
  config: 'unchanged' | 'written';
  backupPath?: string;
}

/** Two ora spinners on one terminal garble each other; concurrent steps run one by one there. */
function spinnerTerminal(): boolean {
  return process.stderr.isTTY === true && !isJsonMode() && process.env['CI'] !== 'true';
}

async function together(tasks: (() => Promise<void>)[]): Promise<void> {
  if (spinnerTerminal()) {
    for (const task of tasks) await task();
    return;
  }
  const results = await Promise.allSettled(tasks.map((task) => task()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function step(plan: Plan, id: StepId): PlanStep {
  return plan.steps.find((s) => s.id === id)!;
}

/** The step's `NAME=value` stdin lines, from the secrets it names (values never were in the plan). */
function stdinOf(planned: PlanStep, facts: LocalFacts): string | undefined {
  if (!planned.stdinSecrets) return undefined;
  return formatSecretsImport(Object.fromEntries(planned.stdinSecrets.map((name) => [name, facts.secrets[name]!])));
}

/** Runs a step's flyctl argv in order, as planned. */
async function runStep(fly: FlyClient, planned: PlanStep, facts: LocalFacts, opts: { onArgv?: (argv: string[]) => void; onLine?: (line: string) => void } = {}): Promise<void> {
  const input = stdinOf(planned, facts);
  for (const argv of planned.argv) {
    opts.onArgv?.(argv);
    await fly.runPlanned(argv, { input, cwd: planned.cwd, onLine: opts.onLine });
  }
}

export async function applyPlan(input: ApplyInput): Promise<ApplyResult> {
  const { fly, project, facts, plan, state, progress } = input;
  const mutations: StepId[] = [];

  // 1. the app — only now: every local check has passed, so a refused deploy leaves no orphan app.
  const app = step(plan, 'app');
  if (app.action === 'create') {
    await progress.run('app', `create app ${plan.app}`, () => runStep(fly, app, facts));
    mutations.push('app');
  } else {
    progress.skip('app', 'app', `${plan.app} exists`);
  }

  // 1b. addresses: the plan printed what releasing public ones breaks, and the user confirmed it.
  const network = step(plan, 'network');
  if (network.action === 'skip') progress.skip('network', 'network', network.reason);
  else {
    await progress.run('network', network.action === 'release' ? 'make the app private (Flycast only)' : 'allocate addresses', (update) =>
      runStep(fly, network, facts, { onArgv: (argv) => update(argv.slice(0, 3).join(' ')) }),
    );
    mutations.push('network');
  }

  // 2. volume and secrets do not depend on each other.
  const volume = step(plan, 'volume');
  const secrets = step(plan, 'secrets');
  await together([
    async () => {
      if (volume.action !== 'create') return progress.skip('volume', 'volume', volume.reason);
      await progress.run('volume', `create volume ${facts.volume} (${facts.volumeSizeGb} GB, ${facts.region})`, () => runStep(fly, volume, facts));
      mutations.push('volume');
    },
    async () => {
      if (secrets.action !== 'set') return progress.skip('secrets', 'secrets', secrets.reason);
      const names = secrets.stdinSecrets ?? [];
      await progress.run('secrets', `stage ${names.length} secret(s) over stdin: ${names.join(', ')}`, () => runStep(fly, secrets, facts));
      const now = new Date().toISOString();
      for (const name of names) state.secrets[name] = { valueHash: valueHash(state.salt, facts.secrets[name]!), setAt: now };
      await writeDeployState(project.dir, state);
      mutations.push('secrets');
    },
  ]);

  // 3. the image and the machine.
  const deploy = step(plan, 'deploy');
  const deployStarted = Date.now();
  if (deploy.action === 'deploy') {
    await progress.run('deploy', `fly deploy (${input.localOnly ? 'local' : 'remote'} build; ${deploy.reason})`, (update) =>
      runStep(fly, deploy, facts, { onLine: (line) => update(redact(line).slice(0, 120)) }),
    );
    // The image is on the machine now: a run interrupted from here on must not build it again.
    // Which machine and image ref it is, the verifier fills in once it sees the machine.
    state.deploy = { inputsHash: plan.inputsHash, secretsHash: plan.secretsHash, machineId: '', imageRef: '', at: new Date().toISOString() };
    await writeDeployState(project.dir, state);
    mutations.push('deploy');
  } else {
    progress.skip('deploy', 'deploy', deploy.reason);
  }

  const deployed = deploy.action === 'deploy';
  const verifier = new Verifier(fly, {
    port: facts.port,
    url: plan.url,
    // Without a deploy: anything since this command started (a crash loop shows up right away).
    since: deployed ? deployStarted : Math.floor(performance.timeOrigin),
    requireListening: deployed,
    runtime: project.runtime,
    newApp: plan.appCreated,
    // A private app's URL answers only inside Fly's network (or through `clawdfly open`).
    probeUrl: project.exposure !== 'private',
    gatewayToken: project.secrets[project.runtime.env.gatewayToken],
    deadlineMs: input.verifyTimeoutMs,
  });

  // 4. the config: the image seeds it on first boot; write it only when missing or different.
  let config = 'unchanged' as ApplyResult['config'];
  let backupPath: string | undefined;
  const machine = await progress.run('config', `make ${project.remoteConfigPath} equal ${project.runtime.configFileName}`, async (update) => {
    verifier.opts.onUpdate = update;
    let m: Machine;
    // Unchanged machine that was started when we looked: read its config while the verifier looks again.
    const known = !deployed && plan.machine?.state === 'started' ? plan.machine : undefined;
    const early = known ? readRemoteConfig(fly, project, known.id).then((text) => ({ ok: true as const, text }), (error: unknown) => ({ ok: false as const, error })) : undefined;
    try {
      m = await verifier.machineStarted();
    } finally {
      // The image is deployed whatever happens next: a re-run must not deploy it again.
      const seen = verifier.machine;
      if (deployed && seen) {
        state.deploy = {
          inputsHash: plan.inputsHash,
          secretsHash: plan.secretsHash,
          machineId: seen.id,
          imageRef: imageRefOf(seen),
          releaseVersion: seen.config?.metadata?.['fly_release_version'],
          at: new Date().toISOString(),
        };
        await writeDeployState(project.dir, state);
      }
    }
    update(`reading it on ${m.id}`);
    let remote: string | undefined;
    const read = early && known!.id === m.id ? await early : undefined;
    if (read?.ok) remote = read.text;
    else remote = await readRemoteConfig(fly, project, m.id);
    if (remote !== undefined && configsEquivalent(facts.configText, remote)) return m;
    update(remote === undefined ? 'missing: writing it' : 'different: writing it');
    const pushed = await pushConfigFile(fly, project, m.id, facts.configText);
    backupPath = pushed.backupPath;
    config = 'written';
    mutations.push('config');
    return m;
  });
  if (!isJsonMode()) {
    out.info(
      config === 'written'
        ? `  config: written to ${project.remoteConfigPath} (0600${backupPath ? `, previous kept as ${backupPath}` : ''}); the gateway hot-reloads it, no restart`
        : `  config: ${project.remoteConfigPath} already matches`,
    );
  }

  // 5. is it really up?
  const verify = await progress.run('verify', `verify the gateway (listens on 0.0.0.0:${facts.port}, ${plan.url})`, (update) => {
    verifier.opts.onUpdate = update;
    return verifier.finish();
  });
  return { machine: verify.machine ?? machine, verify, mutations, config, backupPath };
}
