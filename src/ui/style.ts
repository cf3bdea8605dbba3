import chalk from 'chalk';
import { asInvoked } from './invocation.js';

export const style = {
  /** A command to paste: written the way the user invoked clawdfly (npx, --dir). */
  cmd: (text: string) => chalk.cyan(asInvoked(text)),
  path: (text: string) => chalk.bold(text),
  dim: (text: string) => chalk.dim(text),
  bold: (text: string) => chalk.bold(text),
  ok: (text: string) => chalk.green(text),
  warn: (text: string) => chalk.yellow(text),
  bad: (text: string) => chalk.red(text),
};
