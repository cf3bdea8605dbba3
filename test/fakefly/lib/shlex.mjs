// Shell-style splitting with google/shlex semantics (what flyctl uses for [processes],
// `machine update --command`, and what hallpass does to `ssh console -C`).
// No variable expansion, no globbing. '#' at the start of a word starts a comment.
export class ShlexError extends Error {}

export function shlexSplit(input) {
  const out = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  const s = String(input);
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) { out.push(cur); cur = ''; inWord = false; }
      i++;
      continue;
    }
    if (c === '#' && !inWord) {
      while (i < s.length && s[i] !== '\n') i++;
      continue;
    }
    inWord = true;
    if (c === '\\') {
      if (i + 1 >= s.length) throw new ShlexError('EOF found after escape character');
      cur += s[i + 1];
      i += 2;
      continue;
    }
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new ShlexError('EOF found when expecting closing quote');
      cur += s.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      i++;
      let closed = false;
      while (i < s.length) {
        const d = s[i];
        if (d === '"') { closed = true; i++; break; }
        if (d === '\\') {
          if (i + 1 >= s.length) throw new ShlexError('EOF found after escape character');
          cur += s[i + 1];
          i += 2;
          continue;
        }
        cur += d;
        i++;
      }
      if (!closed) throw new ShlexError('EOF found when expecting closing quote');
      continue;
    }
    cur += c;
    i++;
  }
  if (inWord) out.push(cur);
  return out;
}
