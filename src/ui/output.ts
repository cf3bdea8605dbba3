import chalk from 'chalk';
import { redact } from './redact.js';

/**
 * The only place that writes to the terminal. Everything goes through redact().
 * In --json mode human lines go to stderr so stdout stays one parseable document.
 * Text that came from outside (the machine, an archive, flyctl) also goes through untrusted() /
 * untrustedLines() before it is put in a line: its control characters could otherwise move the
 * cursor and rewrite what the operator reads. Every string in a --json document is filtered here.
 */
export interface OutputOptions {
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

let options: OutputOptions = {};

/** Where output goes: the process's streams, or the ones a caller of runCli(argv, io) gave. */
export interface OutputStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

let streams: OutputStreams | undefined;

/** A run's streams (runCli), and back to the process's with undefined; options start afresh. */
export function useOutputStreams(next: OutputStreams | undefined): void {
  streams = next;
  options = {};
}

export function stdoutStream(): OutputStreams['stdout'] {
  return streams?.stdout ?? process.stdout;
}

export function stderrStream(): OutputStreams['stderr'] {
  return streams?.stderr ?? process.stderr;
}

export function configureOutput(next: OutputOptions): void {
  options = { ...options, ...next };
}

export function isJsonMode(): boolean {
  return options.json === true;
}

export function isVerbose(): boolean {
  return options.verbose === true;
}

/** C0 controls, DEL and C1 controls (U+0080–U+009F: 0x9B is a one-byte CSI to many terminals). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** A control character shown as its JSON escape (`\u001b`, `\n`): visible, inert, and still redacted as JSON text is. */
function escaped(char: string): string {
  return NAMED[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** One value from outside, shown on one line: every control character (newlines too) becomes a visible escape. */
export function untrusted(text: string): string {
  return text.replace(CONTROL, escaped);
}

/** Text from outside that has lines (a log): split on its newlines, each line filtered on its own. */
export function untrustedLines(text: string): string[] {
  return text.replace(/\r?\n$/, '').split(/\r?\n/).map(untrusted);
}

/** Controls a --json string may not carry: all but the newline and the tab (a file's own layout; JSON escapes both). */
const JSON_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** A --json value with every string filtered line by line (newlines and tabs kept: JSON escapes them). */
function filteredForJson(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(JSON_CONTROL, escaped);
  if (Array.isArray(value)) return value.map(filteredForJson);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [untrusted(k), filteredForJson(v)]));
  }
  return value;
}

function write(stream: OutputStreams['stdout'], text: string): void {
  stream.write(redact(text));
}

function human(text: string): void {
  if (options.quiet) return;
  write(options.json ? stderrStream() : stdoutStream(), text + '\n');
}

export const out = {
  line(text = ''): void {
    human(text);
  },
  info(text: string): void {
    human(text);
  },
  step(text: string): void {
    human(`${chalk.cyan('›')} ${text}`);
  },
  success(text: string): void {
    human(`${chalk.green('✔')} ${text}`);
  },
  warn(text: string): void {
    write(stderrStream(), `${chalk.yellow('!')} ${text}\n`);
  },
  error(text: string): void {
    write(stderrStream(), `${chalk.red('✖')} ${text}\n`);
  },
  verbose(text: string): void {
    if (options.verbose) write(stderrStream(), chalk.dim(text) + '\n');
  },
  /** The one JSON document a --json command prints on stdout. */
  json(value: unknown): void {
    write(stdoutStream(), JSON.stringify(filteredForJson(value), null, 2) + '\n');
  },
  /** Raw bytes the user asked for (e.g. `clawdfly token`), still redacted unless told otherwise. */
  raw(text: string, { unredacted = false } = {}): void {
    stdoutStream().write(unredacted ? text : redact(text));
  },
};
