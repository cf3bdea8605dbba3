/**
 * `clawdfly doctor`: gather evidence (probes in parallel), run every check on it, print a
 * checklist; with --fix, repair each failing check (after showing how) and re-check it.
 */
import type { CommandContext } from '../types.js';
import type { doctorSpec } from './spec.js';
import { UsageError } from '../../errors.js';
import { loadProject } from '../../project/project.js';
import { isJsonMode, out } from '../../ui/output.js';
import { confirmOrYes } from '../../ui/prompt.js';
import { Progress } from '../../ui/progress.js';
import { CHECKS, checkTitle } from '../../doctor/checks/index.js';
import { t } from '../../i18n/index.js';
import { gatherEvidence } from '../../doctor/evidence.js';
import { FIX_ORDER, planFix } from '../../doctor/fixes/index.js';
import { printChecklist, printFixPlan, type FixReport } from '../../doctor/render.js';
import type { CheckId, CheckResult, Evidence, FixKind } from '../../doctor/types.js';

export const DEFAULT_LOGS_TIMEOUT_S = 10;

/**
 * Checks that hold whatever gateway the local files name: the rest compare the project with the
 * machine, and while an upgrade is stopped half-way the two disagree by construction (not a fault to fix).
 */
const JUDGED_DURING_INTERRUPTED_UPGRADE = new Set<CheckId>(['flyctl', 'auth', 'app', 'crash-loop', 'backup', 'upgrade', 'leftovers']);

export function runChecks(ev: Evidence): (CheckResult & { id: CheckId; title: string })[] {
  return CHECKS.map((check) => {
    const title = checkTitle(check);
    if (ev.interruptedUpgrade && !JUDGED_DURING_INTERRUPTED_UPGRADE.has(check.id)) {
      return { id: check.id, title, status: 'skip' as const, summary: t('doctor.skip.interruptedUpgrade') };
    }
    try {
      return { id: check.id, title, ...check.run(ev) };
    } catch (error) {
      return { id: check.id, title, status: 'skip' as const, summary: t('doctor.skip.failedToRun', { error: (error as Error).message }) };
    }
  });
}

/** What --fix repairs: a failing check, or a warning whose fix is a clean-up (leftovers). */
function needsFix(r: CheckResult & { id: CheckId }): boolean {
  return r.status === 'fail' || (r.status === 'warn' && CHECKS.find((c) => c.id === r.id)?.fixesWarning === true);
}

export async function run({ opts }: CommandContext<typeof doctorSpec>): Promise<number> {
  const offline = opts.offline === true;
  const fix = opts.fix === true;
  if (offline && fix) throw new UsageError('--fix needs Fly (it changes the deployment); --offline makes no flyctl call', 'drop --offline to fix, or drop --fix to check offline', 'bad-flags');
  const timeoutOpt = opts.logsTimeout;
  if (timeoutOpt !== undefined && (!Number.isInteger(timeoutOpt) || timeoutOpt < 1)) {
    throw new UsageError('--logs-timeout must be a whole number of seconds ≥ 1', '--logs-timeout 10', 'bad-flags');
  }
  const gatherOpts = { offline, flyctl: opts.flyctl, logsTimeoutMs: (timeoutOpt ?? DEFAULT_LOGS_TIMEOUT_S) * 1000 };
  const dir = opts.dir;
  const appOpt = opts.app;
  let project = await loadProject(dir, { app: appOpt });
  const progress = new Progress();

  const started = Date.now();
  let ev = await progress.run('evidence', offline ? t('doctor.progress.local') : t('doctor.progress.remote', { app: project.app }), () => gatherEvidence(project, gatherOpts));
  const probeMs = Date.now() - started;
  let results = runChecks(ev);
  const fixes: FixReport[] = [];

  if (fix) {
    const failing = results.filter(needsFix);
    const byKind = new Map<FixKind, CheckId[]>();
    for (const r of failing) {
      const kind = CHECKS.find((c) => c.id === r.id)!.fixKind?.(ev, r);
      if (!kind) fixes.push({ checks: [r.id], kind: 'manual', steps: [r.fix ?? 'see the evidence'], outcome: 'manual' });
      else byKind.set(kind, [...(byKind.get(kind) ?? []), r.id]);
    }
    if (!isJsonMode() && failing.length) printChecklist(results, { probeMs, offline, heading: t('doctor.heading.beforeFixing') });
    for (const kind of FIX_ORDER) {
      const ids = byKind.get(kind);
      if (!ids) continue;
      // An earlier repair (a redeploy, a restart) may already have fixed these.
      const now = runChecks(ev).filter((r) => ids.includes(r.id) && needsFix(r)).map((r) => r.id);
      if (!now.length) {
        fixes.push({ checks: ids, kind, steps: [], outcome: 'fixed', note: 'fixed by an earlier repair' });
        continue;
      }
      const plan = planFix(kind, now, ev);
      if (plan.blocked) {
        fixes.push({ checks: now, kind, steps: plan.steps, outcome: 'manual', note: plan.blocked });
        continue;
      }
      printFixPlan(plan);
      if (!(await confirmOrYes(t('doctor.confirmFix', { checks: now.join(', ') }), { yes: opts.yes === true, flagHint: 'add --yes to apply fixes without asking' }))) {
        fixes.push({ checks: now, kind, steps: plan.steps, outcome: 'declined' });
        continue;
      }
      const { FlyClient } = await import('../../fly/client.js');
      const client = new FlyClient({ app: project.app, flyctl: gatherOpts.flyctl });
      try {
        await progress.run(`fix-${kind}`, `Fixing ${now.join(', ')}`, (update) => plan.apply(client, update));
      } catch (error) {
        fixes.push({ checks: now, kind, steps: plan.steps, outcome: 'error', note: (error as Error).message.split('\n')[0] });
        continue;
      }
      project = await loadProject(dir, { app: appOpt });
      ev = await progress.run('recheck', `Re-checking ${now.join(', ')}`, () => gatherEvidence(project, gatherOpts));
      const after = runChecks(ev).filter((r) => now.includes(r.id));
      const stillFailing = after.filter(needsFix);
      fixes.push({
        checks: now,
        kind,
        steps: plan.steps,
        outcome: stillFailing.length ? 'still-failing' : 'fixed',
        note: stillFailing.map((r) => `${r.id}: ${r.summary}`).join('; ') || undefined,
      });
    }
    results = runChecks(ev);
  }

  const failed = results.some((r) => r.status === 'fail');
  if (isJsonMode()) {
    const probes = Object.fromEntries(
      (['flyctl', 'whoami', 'status', 'machines', 'secrets', 'logs', 'remote', 'devices'] as const)
        .filter((k) => ev[k])
        .map((k) => [k, { ok: ev[k]!.ok, ms: ev[k]!.ms, ...(ev[k]!.ok ? {} : { error: ev[k]!.error }), ...(k === 'logs' && ev.logs?.value ? { lines: ev.logs.value.lines.length, timedOut: ev.logs.value.timedOut } : {}) }]),
    );
    out.json({
      ok: !failed,
      app: project.app,
      offline,
      machine: ev.machine?.id,
      checks: results.map((r) => ({ id: r.id, status: r.status, summary: r.summary, evidence: r.evidence ?? [], fix: r.fix ?? null })),
      probes,
      wallMs: probeMs,
      ...(fix ? { fixes } : {}),
    });
  } else {
    printChecklist(results, { probeMs, offline, fixes: fix ? fixes : undefined });
  }
  return failed ? 1 : 0;
}
