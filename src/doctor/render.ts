/** The checklist: ✔ / ! / ✖ / - per check, evidence quoted under it, the fix copy-pasteable. */
import { t } from '../i18n/index.js';
import { out, untrustedLines } from '../ui/output.js';
import { style } from '../ui/style.js';
import type { FixPlan } from './fixes/index.js';
import type { CheckId, CheckResult, FixKind } from './types.js';

export interface FixReport {
  checks: CheckId[];
  kind: FixKind | 'manual';
  steps: string[];
  outcome: 'fixed' | 'still-failing' | 'declined' | 'error' | 'manual';
  note?: string;
}

const MARKS: Record<CheckResult['status'], string> = { ok: '✔', warn: '!', fail: '✖', skip: '-' };
const COLOURS: Record<CheckResult['status'], (t: string) => string> = { ok: style.ok, warn: style.warn, fail: style.bad, skip: style.dim };

export function printChecklist(
  results: (CheckResult & { id: CheckId; title?: string })[],
  opts: { probeMs: number; offline: boolean; heading?: string; fixes?: FixReport[] },
): void {
  if (opts.heading) out.line(style.bold(opts.heading));
  const width = Math.max(...results.map((r) => r.id.length));
  for (const r of results) {
    out.line(`${COLOURS[r.status](MARKS[r.status])} ${r.id.padEnd(width)}  ${r.status === 'skip' ? style.dim(r.summary) : r.summary}`);
    if (r.status === 'fail' || r.status === 'warn') {
      // What the check is about, in the reader's language, above the proof.
      if (r.title) out.line(`    ${style.dim(t('doctor.expected', { title: r.title }))}`);
      // evidence quotes the machine (log lines, file names, config values): filtered, line by line
      for (const e of r.evidence ?? []) for (const line of untrustedLines(e)) out.line(`    ${style.dim('│')} ${line}`);
      if (r.fix) out.line(`    ${style.dim('→')} ${style.cmd(r.fix)}`);
    }
  }
  if (opts.fixes?.length) {
    out.line();
    out.line(style.bold(t('doctor.heading.fixes')));
    for (const f of opts.fixes) {
      const mark = f.outcome === 'fixed' ? style.ok('✔') : f.outcome === 'manual' || f.outcome === 'declined' ? style.warn('!') : style.bad('✖');
      out.line(`${mark} ${f.checks.join(', ')}: ${t(`doctor.outcome.${f.outcome}`)}${f.note ? ` — ${f.note}` : ''}`);
    }
  }
  const count = (s: CheckResult['status']) => results.filter((r) => r.status === s).length;
  out.line();
  out.line(
    t('doctor.totals', { ok: count('ok'), warn: count('warn'), fail: count('fail'), skip: count('skip') })
      + (opts.offline ? t('doctor.totals.offline') : '')
      + t('doctor.totals.time', { seconds: (opts.probeMs / 1000).toFixed(1) }),
  );
}

export function printFixPlan(plan: FixPlan): void {
  out.step(t('doctor.fixFor', { checks: plan.checks.join(', ') }));
  for (const step of plan.steps) out.line(`    ${step}`);
}
