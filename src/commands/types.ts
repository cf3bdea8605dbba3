/** Commands are declared as data (spec.ts, cheap to import) and loaded lazily (index.ts). */
export interface OptionSpec {
  /** Commander flags, e.g. '--app <name>' or '--no-require-mention'. They also type the option (see OptionsOf). */
  flags: string;
  description: string;
  /** Environment variable that supplies the value when the flag is absent. */
  env?: string;
  /** 'int': a number (NaN when not a whole number; the handler refuses it); 'repeat': every value, in order. */
  parse?: 'int' | 'repeat';
  defaultValue?: string | boolean | number;
  hidden?: boolean;
}

/** What cli.ts adds to every command's options (the program's own flags, via optsWithGlobals). */
export type GlobalOptions = {
  verbose?: boolean;
  color?: boolean;
  lang?: string;
};

export interface CommandSpec {
  name: string;
  summary: string;
  /** Positional arguments in commander syntax, e.g. '<channel>' or '[action] [id]'. */
  args?: string;
  options?: readonly OptionSpec[];
  examples?: readonly string[];
  load?: () => Promise<CommandModule>;
  subcommands?: readonly CommandSpec[];
}

// ── Option types, read off the spec (as wrangler's createCommand does from its `args`) ──────────

/** '-a, --app <name>' → 'app <name>'; '--no-color' → 'no-color'. */
type LongFlag<F extends string> = F extends `${string}--${infer Rest}` ? Rest : never;
type FlagWord<F extends string> = LongFlag<F> extends `${infer Word} ${string}` ? Word : LongFlag<F>;
type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;
/** The key commander stores the value under: camelCase of the long flag, without a `no-`. */
export type OptionKey<F extends string> = FlagWord<F> extends `no-${infer Word}` ? CamelCase<Word> : CamelCase<FlagWord<F>>;
/** `<value>` → string, `[value]` → string | true, none → boolean; parse: int → number, repeat → string[]. */
export type OptionValue<O extends OptionSpec> = O['parse'] extends 'int'
  ? number
  : O['parse'] extends 'repeat'
    ? string[]
    : LongFlag<O['flags']> extends `${string}<${string}`
      ? string
      : LongFlag<O['flags']> extends `${string}[${string}`
        ? string | true
        : boolean;

/**
 * A command's options as its handler receives them. An option with a defaultValue is always
 * there; the others are undefined when absent. `--x` and `--no-x` share the key `x`.
 */
export type OptionsOf<Options extends readonly OptionSpec[]> = {
  [O in Options[number] as O extends { defaultValue: string | boolean | number } ? OptionKey<O['flags']> : never]: OptionValue<O>;
} & {
  [O in Options[number] as O extends { defaultValue: string | boolean | number } ? never : OptionKey<O['flags']>]?: OptionValue<O>;
} & GlobalOptions;

/**
 * What a command's `run` receives. `CommandContext<typeof fooSpec>` types `opts` from the spec
 * (declare it with defineCommand); plain `CommandContext` is the untyped form older commands use.
 */
export interface CommandContext<Spec extends CommandDeclaration | undefined = undefined> {
  args: string[];
  opts: Spec extends { options: infer O extends readonly OptionSpec[] } ? OptionsOf<O> : Spec extends CommandDeclaration ? GlobalOptions : Record<string, unknown>;
}

/** A command's options alone, for the helpers its run passes them to. */
export type CommandOptions<Spec extends CommandDeclaration> = CommandContext<Spec>['opts'];

export interface CommandModule {
  /** Returns the exit code (0 when omitted). */
  // `any`: each module's run takes CommandContext<typeof itsOwnSpec>; cli.ts passes what commander parsed for that spec
  run(ctx: CommandContext<any>): Promise<number | void>;
}

/**
 * What defineCommand accepts: a CommandSpec whose `load` is not checked here. Checking it would
 * need the handler's type, which is read off this very spec (a cycle); registry.ts checks it.
 */
export type CommandDeclaration = Omit<CommandSpec, 'load' | 'subcommands'> & {
  load?: () => Promise<unknown>;
  subcommands?: readonly CommandDeclaration[];
};

/**
 * Declares a command and keeps its flags' literal text, so that the handler can take
 * `CommandContext<typeof fooSpec>` and get typed options. It returns the spec unchanged.
 */
export function defineCommand<const Spec extends CommandDeclaration>(spec: Spec): Spec {
  return spec;
}

export const common = {
  dir: { flags: '--dir <path>', description: 'project folder (where fly.toml is)', env: 'CLAWDFLY_DIR', defaultValue: '.' },
  app: { flags: '-a, --app <name>', description: 'Fly app name (default: app in fly.toml)' },
  yes: { flags: '-y, --yes', description: 'answer yes to confirmations; never prompt' },
  json: { flags: '--json', description: 'machine-readable output on stdout' },
  flyctl: { flags: '--flyctl <path>', description: 'flyctl binary to use', env: 'CLAWDFLY_FLYCTL' },
} as const satisfies Record<string, OptionSpec>;
