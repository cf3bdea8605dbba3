/**
 * Minimal, line-level edits of fly.toml: change one value in one section and keep every other
 * byte (the user's comments, order, spacing). Each edit is checked by parsing the result back.
 */
import { flyTomlFacts, type FlyTomlFacts } from './render.js';
import { joinShellWords, splitShellWords } from '../util/shell-words.js';

/** flyctl splits [processes] commands shell-style (src/util/shell-words.ts); an unterminated quote reads as-is. */
export function splitCommand(text: string): string[] {
  try {
    return splitShellWords(text);
  } catch {
    return text.split(/\s+/).filter(Boolean);
  }
}

export const joinCommand = joinShellWords;

/** Sets `--flag value` in a command (replacing `--flag v` or `--flag=v`, else appending). */
export function setCommandFlag(argv: string[], flag: string, value: string): string[] {
  const out = [...argv];
  for (let i = 0; i < out.length; i++) {
    if (out[i] === flag) {
      out[i + 1] = value;
      return out;
    }
    if (out[i]!.startsWith(`${flag}=`)) {
      out[i] = `${flag}=${value}`;
      return out;
    }
  }
  return [...out, flag, value];
}

const HEADER = /^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(#.*)?$/;

interface Section {
  name: string;
  /** Line index of the header. */
  header: number;
  /** First line after the section's last line. */
  end: number;
}

function sections(lines: string[]): Section[] {
  const found: Section[] = [];
  lines.forEach((line, i) => {
    const m = line.match(HEADER);
    if (m) {
      if (found.length) found[found.length - 1]!.end = i;
      found.push({ name: m[1]!, header: i, end: lines.length });
    }
  });
  return found;
}

const tomlString = (value: string) => JSON.stringify(value);

/** Sets `key = value` (value already TOML) in the first section named `name`; adds the key or the section when missing. */
export function setKey(text: string, section: string, key: string, tomlValue: string, opts: { header?: string } = {}): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(/\r?\n/);
  const sec = sections(lines).find((s) => s.name === section);
  const keyRe = new RegExp(`^(\\s*)(${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}|"${key}")(\\s*=\\s*)(.*?)(\\s+#.*)?$`);
  if (sec) {
    let indent = '  ';
    let lastKeyLine = sec.header;
    for (let i = sec.header + 1; i < sec.end; i++) {
      const line = lines[i]!;
      const m = line.match(keyRe);
      if (m) {
        lines[i] = `${m[1]}${m[2]}${m[3]}${tomlValue}${m[5] ?? ''}`;
        return lines.join(eol);
      }
      const k = line.match(/^(\s*)[A-Za-z0-9_"-]+\s*=/);
      if (k) {
        indent = k[1]!;
        lastKeyLine = i;
      }
    }
    lines.splice(lastKeyLine + 1, 0, `${indent}${key} = ${tomlValue}`);
    return lines.join(eol);
  }
  const body = [``, opts.header ?? `[${section}]`, `  ${key} = ${tomlValue}`];
  const trimmed = text.replace(/\s+$/, '');
  return `${trimmed}${eol}${body.join(eol)}${eol}`;
}

function verified(text: string, check: (facts: FlyTomlFacts) => boolean, what: string): string {
  const facts = flyTomlFacts(text);
  if (!check(facts)) throw new Error(`fly.toml edit did not take effect: ${what}`);
  return text;
}

export function setProcessCommand(text: string, argv: string[]): string {
  const command = joinCommand(argv);
  return verified(setKey(text, 'processes', 'app', tomlString(command)), (f) => f.processCommand === command, `[processes] app = ${command}`);
}

export function setEnv(text: string, name: string, value: string): string {
  return verified(setKey(text, 'env', name, tomlString(value)), (f) => f.env[name] === value, `[env] ${name} = ${value}`);
}

/** Removes `name` from [env] (and a comment line directly above it that names it); the text unchanged when absent. */
export function unsetEnv(text: string, name: string): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(/\r?\n/);
  const env = sections(lines).find((s) => s.name === 'env');
  if (!env) return text;
  const keyRe = new RegExp(`^\\s*(${name}|"${name}")\\s*=`);
  for (let i = env.header + 1; i < env.end; i++) {
    if (!keyRe.test(lines[i]!)) continue;
    const comment = i - 1 > env.header && /^\s*#/.test(lines[i - 1]!) && lines[i - 1]!.includes('clawdfly backup schedule');
    lines.splice(comment ? i - 1 : i, comment ? 2 : 1);
    return verified(lines.join(eol), (f) => f.env[name] === undefined, `[env] without ${name}`);
  }
  return text;
}

export function setVmMemory(text: string, memoryMb: number): string {
  const lines = text.split(/\r?\n/);
  const vm = sections(lines).find((s) => s.name === 'vm');
  // memory_mb (a number) wins over memory when present: edit the one the user wrote.
  const usesMb = vm ? lines.slice(vm.header + 1, vm.end).some((l) => /^\s*memory_mb\s*=/.test(l)) : false;
  const next = usesMb
    ? setKey(text, 'vm', 'memory_mb', String(memoryMb), { header: '[[vm]]' })
    : setKey(text, 'vm', 'memory', tomlString(`${memoryMb}mb`), { header: '[[vm]]' });
  return verified(next, (f) => f.memoryMb === memoryMb, `[[vm]] memory = ${memoryMb}mb`);
}

export function setVmSize(text: string, vmSize: string): string {
  return verified(setKey(text, 'vm', 'size', tomlString(vmSize), { header: '[[vm]]' }), (f) => f.vmSize === vmSize, `[[vm]] size = ${vmSize}`);
}

export function setRestartAlways(text: string): string {
  const next = setKey(text, 'restart', 'policy', tomlString('always'), { header: '[[restart]]' });
  return verified(next, (f) => f.restartPolicy === 'always', '[[restart]] policy = "always"');
}

/** NODE_OPTIONS with `--max-old-space-size=<mb>` set (other flags kept). */
export function withHeap(nodeOptions: string | undefined, heapMb: number): string {
  const flag = `--max-old-space-size=${heapMb}`;
  if (!nodeOptions?.trim()) return flag;
  if (/--max-old-space-size=\d+/.test(nodeOptions)) return nodeOptions.replace(/--max-old-space-size=\d+/, flag);
  return `${nodeOptions.trim()} ${flag}`;
}
