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
import { configureOutput, isJsonMode, out } from './ui/output.js';
import { redact } from './ui/redact.js';
import { asInvoked, setInvocation } from './ui/invocation.js';
import { clawdflyVersion } from './util/version.js';

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

function addCommand(parent: Command, spec: CommandSpec): void {
  const command = parent.command(spec.name).description(spec.summary);
  if (spec.args) command.arguments(spec.args);
  for (const option of spec.options ?? []) command.addOption(toOption(option));
  if (spec.examples?.length) command.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join('\n')}`);
  for (const sub of spec.subcommands ?? []) addCommand(command, sub);
  const load = spec.load;
  if (load) {
    command.action(async (...received: unknown[]) => {
      const self = received[received.length - 1] as Command;
      const opts = self.optsWithGlobals();
      configureOutput({ json: opts['json'] === true, verbose: opts['verbose'] === true });
      const args = received.slice(0, -2).flat().filter((a): a is string => typeof a === 'string');
      refuseDirThatIsAFile(opts['dir']);
      setInvocation({ dir: opts['dir'], commands: COMMAND_WORDS });
      const module = await load();
      const code = await module.run({ args, opts });
      process.exitCode = typeof code === 'number' ? code : 0;
    });
  }
}

export function buildProgram(): Command {
  const program = new Command('clawdfly')
    .description('From nothing to a running, private OpenClaw gateway on Fly.io — and keep it healthy.')
    .version(clawdflyVersion(), '-V, --version')
    .option('--verbose', 'show every flyctl call (secrets are redacted)')
    .option('--no-color', 'plain output without colours (as NO_COLOR=1 does)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(redact(text)) });
  for (const spec of COMMANDS) addCommand(program, spec);
  program.addHelpText('after', '\nStart with:\n  $ npx clawdfly init\n  $ npx clawdfly deploy\n\nDocs: every command has --help.');
  return program;
}

function reportError(error: unknown): number {
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
      for (const line of error.evidence) out.warn(`  ${line}`);
      if (error.hint) process.stderr.write(redact(`  → ${asInvoked(error.hint)}\n`));
    }
    return error.exitCode;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  // --json promises one JSON document on stdout, failures included
  if (isJsonMode()) out.json({ ok: false, error: { code: 'unexpected', message: redact(error instanceof Error ? error.message : String(error)) } });
  out.error(`unexpected error: ${message}`);
  out.warn('this is a bug in clawdfly; please report it with the output above (secrets are redacted)');
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

export async function main(argv: string[] = process.argv): Promise<void> {
  endQuietlyWhenOutputCloses();
  applyColorChoice(argv);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = reportError(error);
  }
}
