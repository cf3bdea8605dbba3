/**
 * Maps each key path in a JSON/JSON5 text to the line its key starts on ("a.b.0.c" → 12),
 * so validation problems can be shown with line numbers. A small tokenizer: strings (both quotes),
 * comments, identifiers and punctuation; values are skipped, containers are tracked.
 */
export function locateKeyLines(text: string): Map<string, number> {
  const result = new Map<string, number>();
  type Frame = { kind: 'object' | 'array'; key?: string; index: number; path: string[] };
  const stack: Frame[] = [];
  let line = 1;
  let i = 0;
  let pendingKey: { name: string; line: number } | undefined;
  let expectKey = false;

  const currentPath = (): string[] => {
    const top = stack[stack.length - 1];
    if (!top) return [];
    if (top.kind === 'array') return [...top.path, String(top.index)];
    return top.key !== undefined ? [...top.path, top.key] : top.path;
  };

  const readString = (quote: string): string => {
    let value = '';
    i++;
    while (i < text.length && text[i] !== quote) {
      if (text[i] === '\\') {
        value += text[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (text[i] === '\n') line++;
      value += text[i];
      i++;
    }
    i++;
    return value;
  };

  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\n') { line++; i++; continue; }
    if (/\s/.test(ch)) { i++; continue; }
    if (ch === '/' && text[i + 1] === '/') { while (i < text.length && text[i] !== '\n') i++; continue; }
    if (ch === '/' && text[i + 1] === '*') {
      i += 2;
      while (i < text.length && !(text[i] === '*' && text[i + 1] === '/')) { if (text[i] === '\n') line++; i++; }
      i += 2;
      continue;
    }
    const top = stack[stack.length - 1];
    if (ch === '{' || ch === '[') {
      const path = currentPath();
      stack.push({ kind: ch === '{' ? 'object' : 'array', index: 0, path });
      expectKey = ch === '{';
      i++;
      continue;
    }
    if (ch === '}' || ch === ']') { stack.pop(); expectKey = false; i++; continue; }
    if (ch === ',') {
      if (top?.kind === 'array') top.index++;
      if (top?.kind === 'object') { top.key = undefined; expectKey = true; }
      i++;
      continue;
    }
    if (ch === ':') {
      if (top?.kind === 'object' && pendingKey) {
        top.key = pendingKey.name;
        result.set([...top.path, pendingKey.name].join('.'), pendingKey.line);
      }
      pendingKey = undefined;
      expectKey = false;
      i++;
      continue;
    }
    if (ch === '"' || ch === "'") {
      const startLine = line;
      const value = readString(ch);
      if (top?.kind === 'object' && expectKey) pendingKey = { name: value, line: startLine };
      continue;
    }
    // identifiers, numbers, literals
    const start = i;
    while (i < text.length && !/[\s,:{}\[\]"'\/]/.test(text[i]!)) i++;
    if (i === start) i++;
    else if (top?.kind === 'object' && expectKey) pendingKey = { name: text.slice(start, i), line };
  }
  return result;
}
