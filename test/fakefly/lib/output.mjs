// Output helpers shared by fakefly modules.
import { AsyncLocalStorage } from 'node:async_hooks';
export class FlyError extends Error {
  /** @param {string} message  printed as "Error: <message>" on stderr */
  constructor(message, { description, suggestion, docUrl, exitCode = 1, silent = false } = {}) {
    super(message);
    this.description = description;
    this.suggestion = suggestion;
    this.docUrl = docUrl;
    this.exitCode = exitCode;
    this.silent = silent;
  }
}

/** Exit with a code without printing anything more (e.g. after printing our own output). */
export class ExitSignal extends Error {
  constructor(code) { super(`exit ${code}`); this.exitCode = code; }
}

/**
 * Where a call's output goes: the process's stdout/stderr, or, for a call run in the test's own
 * process (lib/in-process.mjs), that call's buffers (AsyncLocalStorage: parallel calls stay apart).
 */
export const sinks = new AsyncLocalStorage();
export const out = (s) => (sinks.getStore()?.stdout ?? process.stdout).write(s);
export const err = (s) => (sinks.getStore()?.stderr ?? process.stderr).write(s);

/** flyctl's render.JSON: 4-space indent + trailing newline. */
export function jsonOut(v) { out(JSON.stringify(v, null, 4) + '\n'); }

// aurora colours are always on in flyctl (see flyctl.md §1.3)
export const aurora = {
  green: (s) => `\x1b[32m${s}\x1b[0m`,
  red: (s) => `\x1b[31m${s}\x1b[0m`,
  yellow: (s) => `\x1b[33m${s}\x1b[0m`,
  blue: (s) => `\x1b[34m${s}\x1b[0m`,
  cyan: (s) => `\x1b[36m${s}\x1b[0m`,
  faint: (s) => `\x1b[2m${s}\x1b[0m`,
};

export function printError(e) {
  let s = `Error: ${e.message}\n`;
  if (e.description && e.description !== e.message) s += `${e.description}\n\n`;
  if (e.suggestion) s += `${e.suggestion}\n\n`;
  if (e.docUrl) s += `View more information at  ${e.docUrl}\n\n`;
  err(s);
}
