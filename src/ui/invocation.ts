/**
 * Printed commands are meant to be pasted. Someone who ran `npx clawdfly deploy --dir my-gateway`
 * must get back `npx clawdfly config push --dir my-gateway`, not a bare `clawdfly config push`
 * that is not on their PATH and runs in the wrong folder. cli.ts records how clawdfly was invoked;
 * every command in a hint (and every style.cmd) is rewritten to match.
 */
import { resolve } from 'node:path';
import { joinShellWords } from '../util/shell-words.js';

interface Invocation {
  /** 'npx ' when npm's exec ran us (npx sets npm_command=exec), else ''. */
  runner: string;
  /** ` --dir <path>` when the user named a project folder other than the current one. */
  dirFlag: string;
  /** Top-level command → its subcommands: which words after `clawdfly` belong to the command. */
  commands: ReadonlyMap<string, ReadonlySet<string>>;
}

let invocation: Invocation | undefined;

export function setInvocation(opts: { dir?: unknown; commands: ReadonlyMap<string, ReadonlySet<string>>; env?: NodeJS.ProcessEnv }): void {
  const env = opts.env ?? process.env;
  const dir = typeof opts.dir === 'string' && opts.dir !== '' && resolve(opts.dir) !== process.cwd() ? opts.dir : undefined;
  invocation = { runner: env['npm_command'] === 'exec' ? 'npx ' : '', dirFlag: dir ? ` --dir ${joinShellWords([dir])}` : '', commands: opts.commands };
}

const COMMAND_IN_TEXT = /(npx )?\bclawdfly((?: [a-z][a-z-]*(?![a-z-])){1,2})/g;

/** `clawdfly <command> [<subcommand>]` in text, as the user invoked clawdfly (npx, --dir). */
export function asInvoked(text: string): string {
  const inv = invocation;
  if (!inv || (!inv.runner && !inv.dirFlag)) return text;
  return text.replace(COMMAND_IN_TEXT, (match: string, npx: string | undefined, words: string, offset: number, whole: string) => {
    const [command, sub] = words.trim().split(' ');
    const subs = inv.commands.get(command!);
    if (!subs) return match;
    // A command that already names its folder (or follows a `cd`) keeps it.
    const lineRest = whole.slice(offset + match.length).split('\n')[0]!;
    const namesFolder = /--dir\b/.test(lineRest) || /\bcd \S+ && $/.test(whole.slice(0, offset));
    const own = sub !== undefined && subs.has(sub) ? `${command} ${sub}` : command!;
    const rest = words.trim().slice(own.length);
    return `${npx ?? inv.runner}clawdfly ${own}${namesFolder ? '' : inv.dirFlag}${rest}`;
  });
}
