/**
 * upgrade: an upgrade that stopped half-way (its journal, src/upgrade/journal.ts, is still there).
 * Until it is finished or undone the local files may name another gateway than the machine runs, so
 * the checks that compare the two are skipped (commands/doctor runChecks) instead of failing falsely.
 * Local files only: it runs offline too.
 */
import type { Check } from '../types.js';

export const upgradeCheck: Check = {
  id: 'upgrade',
  title: 'no upgrade stopped half-way',
  run(ev) {
    const j = ev.interruptedUpgrade;
    if (!j) return { status: 'ok', summary: 'no interrupted upgrade' };
    return { status: 'fail', summary: j.summary, evidence: [`journal: ${j.journal} (stage ${j.stage})`], fix: j.next };
  },
};
