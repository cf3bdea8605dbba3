/** Commands are declared as data (spec.ts, cheap to import) and loaded lazily (index.ts). */
export interface OptionSpec {
  /** Commander flags, e.g. '--app <name>' or '--no-require-mention'. */
  flags: string;
  description: string;
  /** Environment variable that supplies the value when the flag is absent. */
  env?: string;
  parse?: 'int' | 'repeat';
  defaultValue?: string | boolean | number;
  hidden?: boolean;
}

export interface CommandContext {
  args: string[];
  opts: Record<string, unknown>;
}

export interface CommandModule {
  /** Returns the exit code (0 when omitted). */
  run(ctx: CommandContext): Promise<number | void>;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Positional arguments in commander syntax, e.g. '<channel>' or '[action] [id]'. */
  args?: string;
  options?: OptionSpec[];
  examples?: string[];
  load?: () => Promise<CommandModule>;
  subcommands?: CommandSpec[];
}

export const common = {
  dir: { flags: '--dir <path>', description: 'project folder (where fly.toml is)', env: 'CLAWDFLY_DIR', defaultValue: '.' },
  app: { flags: '-a, --app <name>', description: 'Fly app name (default: app in fly.toml)' },
  yes: { flags: '-y, --yes', description: 'answer yes to confirmations; never prompt' },
  json: { flags: '--json', description: 'machine-readable output on stdout' },
  flyctl: { flags: '--flyctl <path>', description: 'flyctl binary to use', env: 'CLAWDFLY_FLYCTL' },
} satisfies Record<string, OptionSpec>;
