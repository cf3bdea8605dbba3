import chalk from 'chalk';
import { redact } from './redact.js';

/**
 * The only place that writes to the terminal. Everything goes through redact().
 * In --json mode human lines go to stderr so stdout stays one parseable document.
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
    write(stdoutStream(), JSON.stringify(value, null, 2) + '\n');
  },
  /** Raw bytes the user asked for (e.g. `clawdfly token`), still redacted unless told otherwise. */
  raw(text: string, { unredacted = false } = {}): void {
    stdoutStream().write(unredacted ? text : redact(text));
  },
};
