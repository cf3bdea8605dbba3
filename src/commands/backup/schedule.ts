/**
 * `clawdfly backup schedule --every <interval> | --off`: refusals first (no flyctl call), then the
 * reads, the plan (printed; `--dry-run` stops there), and the same steps applied. The logic is
 * src/backup/schedule.ts.
 */
import type { CommandContext } from '../types.js';
import type { backupScheduleSpec } from './spec.js';
import { UsageError } from '../../errors.js';
import { FlyAppNotFoundError } from '../../fly/errors.js';
import { applySchedule, planSchedule, type SchedulePlan } from '../../backup/schedule.js';
import { BACKUP_KEY_NAME, parseInterval } from '../../backup/offsite.js';
import { showArgv } from '../../deploy/plan.js';
import { flyFor, openProject } from '../../operate/context.js';
import { PROJECT_FILES } from '../../project/paths.js';
import { isJsonMode, out } from '../../ui/output.js';
import { style } from '../../ui/style.js';
import { t } from '../../i18n/index.js';
import { confirmOrYes } from '../../ui/prompt.js';
import { holdSignals, InterruptedError } from '../../util/interrupt.js';

export async function run({ opts }: CommandContext<typeof backupScheduleSpec>): Promise<number> {
  const off = opts.off === true;
  if (off === (opts.every !== undefined)) {
    throw new UsageError(t(off ? 'backup.schedule.contradict' : 'backup.schedule.howOften'), t('backup.schedule.howOftenHint'), 'bad-flag');
  }
  const every = off ? undefined : parseInterval(opts.every!).every;
  const project = await openProject(opts);
  const fly = flyFor(project, opts);
  // --off changes only fly.toml: it needs nothing from Fly.
  const observed = off ? undefined : await observe(fly);
  const plan = await planSchedule(project, fly, every, observed);
  const dryRun = opts.dryRun === true;
  printPlan(plan, dryRun);
  if (dryRun) return 0;
  // Making the bucket restarts the machine (Fly deploys its credentials at once): asked first.
  if (plan.steps.some((s) => s.id === 'bucket' && s.action === 'create')) {
    const ok = await confirmOrYes(t('backup.schedule.confirm', { bucket: plan.bucket, app: project.app }), {
      yes: opts.yes === true,
      flagHint: t('backup.schedule.addYes', { command: `clawdfly backup schedule --every ${every} --yes` }),
    });
    if (!ok) throw new UsageError(t('backup.schedule.nothingChanged'), `clawdfly backup schedule --every ${every} --yes`, 'not-confirmed');
  }
  // Fly prints the bucket's credentials once: a Ctrl-C must not cut `fly storage create` off before
  // they are in secrets.env. So the few steps run to their end, then the run stops (exit 130).
  const guard = holdSignals({ firstNotice: 'finishing the set-up first (the bucket\'s credentials are printed only once)', whenStopped: 'run clawdfly backup schedule again: it picks up where this stopped', warn: (line) => out.warn(line) });
  try {
    guard.beginCleanup();
    await applySchedule(project, fly, plan);
  } finally {
    guard.release();
  }
  if (guard.signal) throw new InterruptedError(t('backup.schedule.interrupted'), t('backup.schedule.deployHint'));
  if (isJsonMode()) {
    out.json({ ok: true, dryRun: false, ...planJson(plan), next: 'clawdfly deploy', ...(plan.key ? { warnings: [t('backup.schedule.keyWarning', { key: BACKUP_KEY_NAME, file: PROJECT_FILES.secrets })] } : {}) });
    return 0;
  }
  const changed = plan.steps.some((s) => s.action !== 'skip');
  out.success(every ? t(changed ? 'backup.schedule.setUp' : 'backup.schedule.alreadySetUp', { every, bucket: plan.bucket }) : t('backup.schedule.stopped'));
  if (plan.key) {
    // Said once, when the key is made: without it no copy can be decrypted.
    out.warn(t('backup.schedule.keyWarning', { key: BACKUP_KEY_NAME, file: PROJECT_FILES.secrets }));
  }
  if (!every) out.info(`  ${t('backup.schedule.bucketKept', { bucket: plan.bucket, command: `fly storage destroy ${plan.bucket} -a ${project.app}` })}`);
  out.info(`  ${t('backup.schedule.next', { deploy: style.cmd('clawdfly deploy'), list: style.cmd('clawdfly backup list --remote') })}`);
  return 0;
}

async function observe(fly: ReturnType<typeof flyFor>) {
  await fly.ensureVersion();
  const status = await fly.status();
  if (!status) return { appExists: false, secrets: [] };
  try {
    return { appExists: true, secrets: await fly.listSecrets() };
  } catch (error) {
    if (error instanceof FlyAppNotFoundError) return { appExists: false, secrets: [] };
    throw error;
  }
}

function planJson(plan: SchedulePlan) {
  return {
    app: plan.app,
    every: plan.every ?? null,
    bucket: plan.bucket,
    steps: plan.steps.map((s) => ({ id: s.id, action: s.action, reason: s.reason, ...(s.argv ? { argv: ['flyctl', ...s.argv] } : {}), ...(s.stdin ? { stdin: s.stdin } : {}), ...(s.file ? { file: s.file } : {}) })),
  };
}

function printPlan(plan: SchedulePlan, dryRun: boolean): void {
  if (isJsonMode()) {
    if (dryRun) out.json({ ok: true, dryRun: true, ...planJson(plan) });
    return;
  }
  out.info(style.bold(t('backup.schedule.heading', { app: plan.app, dryRun: dryRun ? t('backup.schedule.dryRun') : '' })));
  plan.steps.forEach((step, i) => {
    const label = step.action === 'skip' ? style.dim(step.action.padEnd(6)) : style.ok(step.action.padEnd(6));
    out.info(`  ${i + 1}. ${step.id.padEnd(12)} ${label} ${step.reason}`);
    if (step.action === 'skip') return;
    if (step.argv) out.info(style.dim(`       $ ${showArgv(step.argv)}`));
    for (const line of step.stdin ?? []) out.info(style.dim(`         stdin: ${line}`));
    if (step.file) out.info(style.dim(`       write ${step.file}`));
    for (const line of (step.diff ?? '').split('\n').filter((l) => /^[+-][^+-]/.test(l))) out.info(style.dim(`         ${line}`));
  });
}
