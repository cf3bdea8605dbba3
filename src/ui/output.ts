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

export function configureOutput(next: OutputOptions): void {
  options = { ...options, ...next };
}

export function isJsonMode(): boolean {
  return options.json === true;
}

export function isVerbose(): boolean {
  return options.verbose === true;
}

function write(stream: NodeJS.WriteStream, text: string): void {
  stream.write(redact(text));
}

function human(text: string): void {
  if (options.quiet) return;
  write(options.json ? process.stderr : process.stdout, text + '\n');
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
    write(process.stderr, `${chalk.yellow('!')} ${text}\n`);
  },
  error(text: string): void {
    write(process.stderr, `${chalk.red('✖')} ${text}\n`);
  },
  verbose(text: string): void {
    if (options.verbose) write(process.stderr, chalk.dim(text) + '\n');
  },
  /** The one JSON document a --json command prints on stdout. */
  json(value: unknown): void {
    write(process.stdout, JSON.stringify(value, null, 2) + '\n');
  },
  /** Raw bytes the user asked for (e.g. `clawdfly token`), still redacted unless told otherwise. */
  raw(text: string, { unredacted = false } = {}): void {
    process.stdout.write(unredacted ? text : redact(text));
  },
};
