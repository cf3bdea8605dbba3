/**
 * `clawdfly deploy`: local checks → (flyctl version, login, observe Fly) in parallel → plan →
 * confirm → apply → verify. `--dry-run` stops after the plan. Running it again resumes an
 * interrupted deploy and, when nothing changed, makes no remote change at all.
 */
import { resolve } from 'node:path';
import type { CommandContext } from '../types.js';
import type { deploySpec } from './spec.js';
import { FlyClient } from '../../fly/client.js';
import { FlyAuthError, FlyctlTooOldError } from '../../fly/errors.js';
import { loadProject } from '../../project/project.js';
import { isClawdflyError, UsageError } from '../../errors.js';
import { applyPlan } from '../../deploy/apply.js';
import { adoptDigests, computePlan, observe, planToJson, showArgv, type Observed, type Plan } from '../../deploy/plan.js';
import { localPreflight } from '../../deploy/preflight.js';
import { readDeployState, writeDeployState } from '../../deploy/state.js';
import { recordRelease, RELEASES_FILE } from '../../release/releases.js';
import { convergeInterruptedUpgrade } from '../../release/converge.js';
import { isJsonMode, out } from '../../ui/output.js';
import { Progress } from '../../ui/progress.js';
import { confirmOrYes } from '../../ui/prompt.js';
import { style } from '../../ui/style.js';

const MUTATING = new Set(['create', 'set', 'deploy', 'release']);
const STEP_ORDER = ['preflight', 'app', 'network', 'volume', 'secrets', 'deploy', 'config', 'verify'];

function verifyTimeoutMs(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 10) {
    throw new UsageError('--verify-timeout takes a whole number of seconds, at least 10', '--verify-timeout 300', 'bad-flag');
  }
  return value * 1000;
}

export async function run({ opts }: CommandContext<typeof deploySpec>): Promise<number> {
  verifyTimeoutMs(opts.verifyTimeout); // refused before anything else happens
  const dryRun = opts.dryRun === true;
  const localOnly = opts.localOnly === true;
  const org = opts.org;

  // Local checks first: a bad project is refused (exit 2) before flyctl is even looked for.
  const loaded = await loadProject(opts.dir, { app: opts.app });
  // An upgrade that stopped half-way is finished or undone first: deploy then starts from a project that says what runs.
  const project = localOnly ? loaded : await convergeInterruptedUpgrade(loaded, () => new FlyClient({ flyctl: opts.flyctl, app: loaded.app }), { dryRun, yes: opts.yes === true, rerun: 'clawdfly deploy --yes' });
  const facts = localPreflight(project, { localOnly, secretsFromEnv: opts.secretsFromEnv === true });
  for (const warning of facts.warnings) out.warn(warning);

  const fly = new FlyClient({ flyctl: opts.flyctl, app: project.app });
  const state = await readDeployState(project.dir, project.app);
  const progress = new Progress();

  try {
    // Version, login and the four reads of remote state go out together; errors are reported in
    // that order of importance (an old flyctl or a missing login explains every other failure).
    const observed = await progress.run('preflight', `check flyctl, login and what exists for ${project.app} on Fly`, async () => {
      const [version, whoami, seen] = await Promise.allSettled([fly.ensureVersion(), fly.whoami(), observe(fly)]);
      for (const result of [version, whoami, seen]) {
        if (result.status === 'rejected' && (result.reason instanceof FlyctlTooOldError || result.reason instanceof FlyAuthError)) throw result.reason;
      }
      for (const result of [version, whoami, seen]) if (result.status === 'rejected') throw result.reason;
      return (seen as PromiseFulfilledResult<Observed>).value;
    });

    const plan = await computePlan(fly, project, facts, observed, state, { org, localOnly });
    const learned = adoptDigests(state, observed, facts);

    if (dryRun) {
      printPlan(plan, true);
      return 0;
    }
    if (learned) await writeDeployState(project.dir, state);

    const changes = plan.steps.filter((s) => MUTATING.has(s.action));
    if (changes.length > 0) {
      if (!isJsonMode() && opts.yes !== true) printPlan(plan, false);
      const ok = await confirmOrYes(`Apply ${changes.length} change(s) to ${plan.app} on Fly.io?`, {
        yes: opts.yes === true,
        flagHint: 'add --yes (or look first: clawdfly deploy --dry-run)',
      });
      if (!ok) {
        out.warn('nothing changed');
        return 1;
      }
    }

    const result = await applyPlan({ fly, project, facts, plan, state, progress, org, localOnly, verifyTimeoutMs: verifyTimeoutMs(opts.verifyTimeout) });
    const warnings = [...facts.warnings, ...result.verify.warnings];
    // A new image runs: remember it and the files it came from, so `clawdfly rollback` can return here.
    if (result.mutations.includes('deploy')) {
      await recordRelease(project, result.machine, { kind: 'deploy' }).catch((error: unknown) => {
        warnings.push(`could not record this release in ${RELEASES_FILE} (${error instanceof Error ? error.message : String(error)}): rollback will not know it`);
      });
    }

    if (isJsonMode()) {
      out.json({
        ok: true,
        app: plan.app,
        url: plan.url,
        machineId: result.machine.id,
        // In plan order (volume and secrets run side by side and may finish in either order).
        steps: [...progress.steps].sort((a, b) => STEP_ORDER.indexOf(a.id) - STEP_ORDER.indexOf(b.id)).map(({ id, status, ms }) => ({ id, status, ms })),
        changes: result.mutations,
        config: result.config,
        warnings,
      });
      return 0;
    }
    for (const warning of warnings.slice(facts.warnings.length)) out.warn(warning);
    for (const note of result.verify.notes) out.info(`  gateway: ${note}`);
    out.line();
    out.success(`${style.bold(plan.app)} is running: ${style.bold(plan.url)}${project.exposure === 'private' ? ' (private: no public address)' : ''}`);
    out.info(`  machine ${result.machine.id} in ${result.machine.region ?? plan.region} · ${result.mutations.length ? `changed: ${result.mutations.join(', ')}` : 'nothing to change'}`);
    out.info(`  token:  ${style.cmd('clawdfly token')}  (prints the gateway token from .clawdfly/secrets.env; Fly cannot show a secret back)`);
    const opener = project.exposure === 'private' ? `${style.cmd('clawdfly open')} (a tunnel to the private address)` : 'open the URL';
    out.info(`  next:   ${opener} and paste the token when asked · ${style.cmd('clawdfly status')} · ${style.cmd('clawdfly logs')}`);
    return 0;
  } catch (error) {
    if (isClawdflyError(error) && !isJsonMode() && progress.steps.some((s) => s.status === 'done' && s.id !== 'preflight')) {
      out.warn(`nothing done so far is lost: run ${style.cmd('clawdfly deploy')} again to resume`);
    }
    throw error;
  }
}

/** A remote script is shown by its size on screen; `--json` prints every argv whole. */
function shortScript(arg: string): string {
  return arg.includes('\n') ? `<script: ${arg.split('\n').length} lines; --dry-run --json prints it>` : arg;
}

function printPlan(plan: Plan, dryRun: boolean): void {
  if (isJsonMode()) {
    out.json({ ok: true, dryRun, ...(planToJson(plan) as object) });
    return;
  }
  out.info(style.bold(`Plan for ${plan.app} (${plan.region})${dryRun ? ' — dry run, nothing will be changed' : ''}:`));
  plan.steps.forEach((step, i) => {
    const label = MUTATING.has(step.action) ? style.ok(step.action.padEnd(7)) : style.dim(step.action.padEnd(7));
    out.info(`  ${i + 1}. ${step.id.padEnd(8)} ${label} ${step.reason}`);
    if (step.action === 'skip') return;
    for (const argv of step.argv) {
      const line = showArgv(argv.map(shortScript));
      out.info(style.dim(`       $ ${step.cwd ? `(cd ${resolve(step.cwd)} && ${line})` : line}`));
    }
    for (const stdinLine of step.stdin ?? []) out.info(style.dim(`         stdin: ${stdinLine}`));
  });
}
