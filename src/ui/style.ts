import chalk from 'chalk';

export const style = {
  cmd: (text: string) => chalk.cyan(text),
  path: (text: string) => chalk.bold(text),
  dim: (text: string) => chalk.dim(text),
  bold: (text: string) => chalk.bold(text),
  ok: (text: string) => chalk.green(text),
  warn: (text: string) => chalk.yellow(text),
  bad: (text: string) => chalk.red(text),
};
