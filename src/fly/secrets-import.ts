/**
 * The stdin of `flyctl secrets import`, written so flyctl reads back exactly the values we mean.
 *
 * flyctl's parser (internal/command/secrets/parser.go, ported line for line below) cuts a value at
 * `#` when the text before it holds an even number of `"`, strips one pair of surrounding `"` or
 * `'` without unescaping anything, and reads `"""…"""` across lines. No single quoting survives
 * every value (`a#b"c` in '…' becomes `'a`), so each value gets the first form the port reads back
 * unchanged; a value no form can carry is refused, never sent mangled.
 */
import { UsageError } from '../errors.js';

/** flyctl's parseSecrets, line for line. Throws where Go would panic (a value of a lone quote). */
export function parseFlyctlSecretsImport(text: string): Record<string, string> {
  const secrets: Record<string, string> = {};
  let multiline = false;
  let parsedKey = '';
  let parsedVal = '';
  // bufio.ScanLines: split at \n, drop one trailing \r, no empty token after a final newline.
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!multiline) {
      if (line.startsWith('#') || line.trim() === '') continue;
      const eq = line.indexOf('=');
      if (eq < 0) throw new Error(`Secrets must be provided as NAME=VALUE pairs (${line} is invalid)`);
      const key = line.slice(0, eq).trim();
      let value = line.slice(eq + 1).replace(/^ +/, '');
      const hash = value.indexOf('#');
      if (hash >= 0) {
        const before = value.slice(0, hash);
        if ((before.match(/"/g) ?? []).length % 2 === 0) value = before.replace(/ +$/, '');
      }
      if (value.startsWith('"""') && value.endsWith('"""') && value.length >= 6) secrets[key] = value.slice(3, -3);
      else if (value.startsWith('"""')) {
        multiline = true;
        parsedKey = key;
        parsedVal = value.slice(3) + '\n';
      } else {
        const quoted = (value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"));
        if (quoted && value.length < 2) throw new Error('panic: runtime error: slice bounds out of range [1:0]');
        secrets[key] = quoted ? value.slice(1, -1) : value;
      }
    } else if (line.endsWith('"""')) {
      secrets[parsedKey] = parsedVal + line.slice(0, -3);
      multiline = false;
      parsedKey = '';
      parsedVal = '';
    } else parsedVal += line + '\n';
  }
  return secrets;
}

function readsBackAs(name: string, line: string, value: string): boolean {
  try {
    const parsed = parseFlyctlSecretsImport(`${line}\n`);
    return Object.keys(parsed).length === 1 && parsed[name] === value;
  } catch {
    return false;
  }
}

/** `NAME=<value in the first form flyctl reads back unchanged>`. */
export function importLine(name: string, value: string): string {
  const forms = [`"${value}"`, `'${value}'`, `"""${value}"""`];
  for (const form of forms) {
    const line = `${name}=${form}`;
    if (readsBackAs(name, line, value)) return line;
  }
  throw new UsageError(
    `the value of ${name} cannot be sent to Fly intact: flyctl's secrets parser would change it (a line ending in """, a carriage return, or # after an odd number of " on a multi-line value)`,
    `set ${name} by hand: fly secrets set ${name}=- --stage < a file holding the value`,
    'secret-unsendable',
  );
}

export function formatSecretsImport(secrets: Record<string, string>): string {
  return Object.entries(secrets).map(([name, value]) => importLine(name, value)).join('\n') + '\n';
}
