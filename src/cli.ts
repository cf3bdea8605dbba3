/**
 * The one boundary: builds commander from the command specs, runs the chosen command, and turns
 * every error into a one-line cause + the fix + an exit code (2 = refused input, 1 = failure).
 */
import chalk from 'chalk';
import { Command, CommanderError, Option } from 'commander';
import { COMMANDS } from './commands/registry.js';
import type { CommandSpec, OptionSpec } from './commands/types.js';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isClawdflyError, UsageError } from './errors.js';
import { configureOutput, isJsonMode, out, stderrStream, stdoutStream, untrustedLines, useOutputStreams, type OutputStreams } from './ui/output.js';
import { redact } from './ui/redact.js';
import { asInvoked, setInvocation } from './ui/invocation.js';
import { clawdflyVersion } from './util/version.js';
import { chooseLocale } from './i18n/locale.js';
import { isDiskFull } from './util/fs.js';

function toOption(spec: OptionSpec): Option {
  const option = new Option(spec.flags, spec.description);
  if (spec.env) option.env(spec.env);
  if (spec.hidden) option.hideHelp();
  if (spec.parse === 'int') {
    option.argParser((value: string) => (/^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN));
  } else if (spec.parse === 'repeat') {
    option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  }
  if (spec.defaultValue !== undefined) option.default(spec.defaultValue);
  return option;
}

/**
 * `--dir` naming a file (or a path through one) is refused here, once for every command, instead of
 * surfacing later as ENOTDIR from whichever read or write hits it first.
 */
function refuseDirThatIsAFile(dir: unknown): void {
  if (typeof dir !== 'string') return;
  for (let path = resolve(dir); ; path = dirname(path)) {
    if (existsSync(path)) {
      if (statSync(path).isDirectory()) return;
      throw new UsageError(`--dir ${dir}: ${path} is a file, not a folder`, '--dir <the project folder> (or leave it out to use this folder)', 'dir-is-a-file');
    }
    if (dirname(path) === path) return;
  }
}

/** Each command's name → its subcommands' names: what asInvoked() recognises in a hint. */
const COMMAND_WORDS: ReadonlyMap<string, ReadonlySet<string>> = new Map(COMMANDS.map((c) => [c.name, new Set((c.subcommands ?? []).map((s) => s.name))]));

/** What the command that ran returned (read by runCli after commander is done). */
let commandExitCode = 0;

function addCommand(parent: Command, spec: CommandSpec): void {
  const command = parent.command(spec.name).description(spec.summary);
  if (spec.args) command.arguments(spec.args);
  for (const option of spec.options ?? []) command.addOption(toOption(option));
  if (spec.examples?.length) command.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join('\n')}`);
  // A command that runs itself AND has subcommands (`backup`, `backup schedule`): its own options are
  // only its own before the subcommand's name, so `backup schedule --dir x` gives --dir to schedule.
  if (spec.load && spec.subcommands?.length) command.enablePositionalOptions();
  for (const sub of spec.subcommands ?? []) addCommand(command, sub);
  if (!spec.load && spec.subcommands?.length) {
    // `clawdfly config` alone is a usage error (exit 2), with the usage, not a help page that exits 0.
    const names = spec.subcommands.map((s) => s.name);
    command.action(() => {
      command.outputHelp({ error: true });
      throw new UsageError(`clawdfly ${spec.name} needs a subcommand: ${names.slice(0, -1).join(', ')}${names.length > 1 ? ' or ' : ''}${names[names.length - 1]}`, `clawdfly ${spec.name} ${names[0]}  (or clawdfly ${spec.name} --help)`, 'missing-subcommand');
    });
  }
  const load = spec.load;
  if (load) {
    command.action(async (...received: unknown[]) => {
      const self = received[received.length - 1] as Command;
      const opts = self.optsWithGlobals();
      configureOutput({ json: opts['json'] === true, verbose: opts['verbose'] === true });
      const args = received.slice(0, -2).flat().filter((a): a is string => typeof a === 'string');
      refuseDirThatIsAFile(opts['dir']);
      setInvocation({ dir: opts['dir'], commands: COMMAND_WORDS });
      // The catalog of another language loads only when one is asked for (--help never loads it).
      const locale = chooseLocale(opts);
      if (locale !== 'en') await (await import('./i18n/index.js')).useLocale(locale);
      const module = await load();
      const code = await module.run({ args, opts });
      commandExitCode = typeof code === 'number' ? code : 0;
    });
  }
}

/**
 * Help pages wrap at 80 columns (fewer on a narrower terminal): so the top-level page is the same
 * text everywhere, and bin/clawdfly.js can print the copy the build rendered (dist/help.txt)
 * without loading the CLI.
 */
export const HELP_WIDTH = 80;

export function buildProgram(): Command {
  const program = new Command('clawdfly')
    .description('From nothing to a running, private OpenClaw gateway on Fly.io — and keep it healthy.')
    .version(clawdflyVersion(), '-V, --version')
    .option('--verbose', 'show every flyctl call (secrets are redacted)')
    .option('--no-color', 'plain output without colours (as NO_COLOR=1 does)')
    .option('--lang <locale>', 'language of the init wizard, doctor, backup and restore: en, zh-CN (default: from LC_ALL, LC_MESSAGES, LANG)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureHelp({ helpWidth: process.stdout.isTTY && process.stdout.columns ? Math.min(process.stdout.columns, HELP_WIDTH) : HELP_WIDTH })
    .configureOutput({ writeOut: (text) => stdoutStream().write(text), writeErr: (text) => stderrStream().write(redact(text)) });
  for (const spec of COMMANDS) addCommand(program, spec);
  program.addHelpText('after', '\nStart with:\n  $ npx clawdfly init\n  $ npx clawdfly deploy\n\nDocs: every command has --help.');
  return program;
}

/** The signal that interrupted this run (Ctrl-C, SIGTERM), if any. */
let interruptedBy: NodeJS.Signals | undefined;
const SIGNAL_EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Ctrl-C ends the run with 130 (SIGTERM: 143) however far it got. With nobody else listening, it
 * exits at once, as Node's default would (but with the shell's code, not a signal death). While a
 * command listens itself (a flyctl child it waits for, a tunnel, a journal to settle), the signal
 * is only recorded: whatever error the interrupted child then causes, the run still ends with 130.
 */
function exitWithTheShellCodeOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      interruptedBy ??= signal;
      if (process.listenerCount(signal) === 1) {
        process.stderr.write('\n');
        process.exit(SIGNAL_EXIT_CODES[signal]);
      }
    });
  }
}

function reportError(error: unknown): number {
  // A command that was interrupted says itself what state things are in (exit 130, an InterruptedError);
  // any other failure after a signal is the interruption's echo (flyctl killed mid-call), not news.
  if (interruptedBy && !(isClawdflyError(error) && error.exitCode === 130)) {
    out.warn(interruptedBy === 'SIGINT' ? 'interrupted (Ctrl-C)' : `interrupted (${interruptedBy})`);
    return SIGNAL_EXIT_CODES[interruptedBy] ?? 1;
  }
  if (error instanceof CommanderError) {
    // Help and version are "errors" to exitOverride; commander already printed them.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
    return 2;
  }
  if (error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError')) {
    out.warn('cancelled');
    return 130;
  }
  if (isClawdflyError(error)) {
    if (isJsonMode()) {
      out.json({ ok: false, error: { code: error.code, message: redact(error.message), hint: error.hint && asInvoked(error.hint), evidence: error.evidence } });
    } else {
      out.error(error.message);
      for (const line of error.evidence.flatMap(untrustedLines)) out.warn(`  ${line}`);
      if (error.hint) stderrStream().write(redact(`  → ${asInvoked(error.hint)}\n`));
    }
    return error.exitCode;
  }
  if (isDiskFull(error)) {
    // One line, whichever write hit it first: no stack trace for a full disk.
    const path = (error as NodeJS.ErrnoException).path;
    const message = `the local disk is full: ${path ? `${path} could not be written` : (error as Error).message}`;
    if (isJsonMode()) out.json({ ok: false, error: { code: 'local-disk-full', message: redact(message) } });
    else out.error(message);
    return 1;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  // --json promises one JSON document on stdout, failures included
  if (isJsonMode()) out.json({ ok: false, error: { code: 'unexpected', message: redact(error instanceof Error ? error.message : String(error)) } });
  out.error(`unexpected error: ${message}`);
  out.warn('this is a bug in clawdfly; please report it with the output above (secrets are redacted)');
  if (!process.sourceMapsEnabled) out.warn('run it again with --verbose for a stack trace that names the source lines');
  return 1;
}

/** 128 + SIGPIPE: what a shell reports for git or flyctl when their reader went away. */
const CLOSED_PIPE_EXIT_CODE = 141;

/**
 * A reader that went away (`clawdfly logs | head`) ends the run quietly, as git and flyctl do.
 * Node ignores SIGPIPE, so without this every later write throws `write EPIPE` with a stack trace.
 */
function endQuietlyWhenOutputCloses(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(CLOSED_PIPE_EXIT_CODE);
    });
  }
}

/**
 * NO_COLOR (no-color.org: set and not empty) or `--no-color` turns colour off everywhere. chalk does
 * not read NO_COLOR itself, so its level is set here; libraries loaded later (prompts) and child
 * processes read the variable.
 */
function applyColorChoice(argv: string[]): void {
  const ownArgs = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (ownArgs.includes('--no-color')) process.env['NO_COLOR'] = '1';
  if (process.env['NO_COLOR']) chalk.level = 0;
}

/**
 * One run of clawdfly, callable in-process (wrangler's runWrangler is the model): `argv` as the
 * user typed it (without node and the script), output to `io`'s streams (default: the process's),
 * and the exit code returned instead of set. Tests use it through runCliInProcess (test/helpers/cli.ts); the
 * environment is process.env (a test sets it for the run).
 */
export async function runCli(argv: string[], io?: OutputStreams): Promise<number> {
  useOutputStreams(io);
  commandExitCode = 0;
  applyColorChoice(argv);
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return commandExitCode;
  } catch (error) {
    return reportError(error);
  } finally {
    useOutputStreams(undefined);
  }
}

/** The program: bin/clawdfly.js. */
export async function main(argv: string[] = process.argv): Promise<void> {
  endQuietlyWhenOutputCloses();
  exitWithTheShellCodeOnSignals();
  const code = await runCli(argv.slice(2));
  // However far an interrupted run got, it ends with the shell's code for the signal.
  process.exitCode = interruptedBy && code !== 0 ? (SIGNAL_EXIT_CODES[interruptedBy] ?? code) : code;
}
