/**
 * Prompts fall back to a declared default or fail clearly when there is no terminal; they never
 * hang. @inquirer/prompts is loaded only when a question is actually asked.
 */
import { UsageError } from '../errors.js';

export function canPrompt(): boolean {
  return process.stdin.isTTY === true && process.stdout.isTTY === true && process.env['CI'] !== 'true';
}

type Inquirer = typeof import('@inquirer/prompts');
let inquirer: Promise<Inquirer> | undefined;
export function prompts(): Promise<Inquirer> {
  inquirer ??= import('@inquirer/prompts');
  return inquirer;
}

/**
 * Ask for confirmation: `--yes` answers yes; without a terminal and without --yes, refuse with
 * the flag that answers it.
 */
export async function confirmOrYes(message: string, opts: { yes?: boolean; defaultValue?: boolean; flagHint?: string }): Promise<boolean> {
  if (opts.yes) return true;
  if (!canPrompt()) throw new UsageError(`${message.replace(/\?$/, '')}: needs confirmation and there is no terminal to ask on`, opts.flagHint ?? 'add --yes');
  const { confirm } = await prompts();
  return confirm({ message, default: opts.defaultValue ?? true });
}

/** Ctrl-C inside a prompt: exit quietly like any CLI does (130 = killed by SIGINT). */
export function isPromptCancel(error: unknown): boolean {
  return error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError');
}
