/**
 * A unified diff with context, from jsdiff (npm `diff`): Myers' O(ND) algorithm, linear in memory,
 * where the hand-written LCS before it kept an n × m table. Very long files (a lockfile) are
 * summarised instead of shown: a person cannot review 2,000 changed lines in a plan.
 */
import { structuredPatch } from 'diff';

const TOO_LONG_TO_SHOW = 2000;

export function unifiedDiff(before: string, after: string, labels: { from: string; to: string }, context = 3): string {
  if (before === after) return '';
  const lineCount = Math.max(before.split('\n').length, after.split('\n').length);
  if (lineCount > TOO_LONG_TO_SHOW) return `--- ${labels.from}\n+++ ${labels.to}\n(${lineCount} lines differ; too long to show)\n`;
  const patch = structuredPatch(labels.from, labels.to, before, after, undefined, undefined, { context });
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`];
  for (const hunk of patch.hunks) {
    // GNU diff's convention: an empty side names the line before it (`@@ -0,0 +1,2 @@`).
    const oldStart = hunk.oldLines === 0 ? hunk.oldStart - 1 : hunk.oldStart;
    const newStart = hunk.newLines === 0 ? hunk.newStart - 1 : hunk.newStart;
    out.push(`@@ -${oldStart},${hunk.oldLines} +${newStart},${hunk.newLines} @@`);
    // jsdiff marks a last line without a newline; the files shown here are text, so it is noise.
    out.push(...hunk.lines.filter((line) => !line.startsWith('\\')));
  }
  return out.join('\n') + '\n';
}
