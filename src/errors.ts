/**
 * Typed errors. Every failure a user can meet is one of these, thrown anywhere and
 * caught at one boundary (cli.ts), which prints the one-line cause, the hint that fixes it,
 * and exits with the error's code. Messages pass through the redaction filter there.
 */
/** 130: stopped by Ctrl-C (SIGINT) or SIGTERM, after what was begun was finished or undone. */
export type ExitCode = 1 | 2 | 130;

export interface ErrorDetails {
  /** The command or flag that fixes it, printed on its own line. */
  hint?: string;
  /** Stable machine-readable id, shown in --json output. */
  code?: string;
  /** 2 = the user's input was refused (nothing was done); 1 = something failed while doing it; 130 = interrupted. */
  exitCode?: ExitCode;
  /** Supporting evidence (a log line, a config value) printed under the cause. */
  evidence?: string[];
}

export class ClawdflyError extends Error {
  readonly hint?: string;
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly evidence: string[];

  constructor(message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = new.target.name;
    this.hint = details.hint;
    this.code = details.code ?? 'failed';
    this.exitCode = details.exitCode ?? 1;
    this.evidence = details.evidence ?? [];
  }
}

/** Bad input: refused before anything was written locally or remotely. Exit code 2. */
export class UsageError extends ClawdflyError {
  constructor(message: string, hint?: string, code = 'usage') {
    super(message, { hint, code, exitCode: 2 });
  }
}

export function isClawdflyError(error: unknown): error is ClawdflyError {
  return error instanceof ClawdflyError;
}
