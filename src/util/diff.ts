/**
 * A line diff (LCS) rendered as a unified diff with context. Project files are small;
 * for big ones (a lockfile) callers show a summary instead.
 */
type Op = { kind: ' ' | '-' | '+'; text: string };

export function diffLines(before: string, after: string): Op[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { ops.push({ kind: ' ', text: a[i]! }); i++; j++; }
    else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) ops.push({ kind: '-', text: a[i++]! });
    else ops.push({ kind: '+', text: b[j++]! });
  }
  while (i < n) ops.push({ kind: '-', text: a[i++]! });
  while (j < m) ops.push({ kind: '+', text: b[j++]! });
  return ops;
}

export function unifiedDiff(before: string, after: string, labels: { from: string; to: string }, context = 3): string {
  if (before === after) return '';
  const lineCount = Math.max(before.split('\n').length, after.split('\n').length);
  if (lineCount > 2000) return `--- ${labels.from}\n+++ ${labels.to}\n(${lineCount} lines differ; too long to show)\n`;
  const ops = diffLines(before, after);
  const out: string[] = [`--- ${labels.from}`, `+++ ${labels.to}`];
  const changed = ops.map((op) => op.kind !== ' ');
  let k = 0;
  while (k < ops.length) {
    if (!changed[k]) { k++; continue; }
    const start = Math.max(0, k - context);
    let end = k;
    while (end < ops.length) {
      if (changed[end]) { end++; continue; }
      let next = end;
      while (next < ops.length && !changed[next] && next - end < context * 2) next++;
      if (next < ops.length && changed[next]) { end = next; continue; }
      break;
    }
    const stop = Math.min(ops.length, end + context);
    let oldLine = 1;
    let newLine = 1;
    for (let p = 0; p < start; p++) { if (ops[p]!.kind !== '+') oldLine++; if (ops[p]!.kind !== '-') newLine++; }
    const hunk = ops.slice(start, stop);
    const oldCount = hunk.filter((o) => o.kind !== '+').length;
    const newCount = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${oldLine},${oldCount} +${newLine},${newCount} @@`);
    for (const op of hunk) out.push(`${op.kind}${op.text}`);
    k = stop;
  }
  return out.join('\n') + '\n';
}
