/**
 * Ctrl-C (SIGINT) and SIGTERM during work that must not stop half-way (an upgrade, a restore's swap
 * and restart). While a guard is held, the first signal does not kill the process: it is recorded,
 * the running flyctl call gets it (fly/run.ts forwards it and the call fails), no new flyctl call or
 * progress step starts (they throw InterruptedError), and the command's own clean-up (`beginCleanup`)
 * finishes or undoes what was begun, then exits 130. A second signal exits 130 at once: what was
 * begun is then recorded on disk (the upgrade journal) and the next run finishes it.
 */
import { ClawdflyError } from '../errors.js';

export class InterruptedError extends ClawdflyError {
  constructor(message: string, hint?: string, code = 'interrupted') {
    super(message, { hint, code, exitCode: 130 });
  }
}

export interface SignalGuard {
  /** The signal received, if any. */
  readonly signal: NodeJS.Signals | undefined;
  /** From here on the work is the way back (or forward): flyctl calls run again; a second signal still exits at once. */
  beginCleanup(): void;
  release(): void;
}

let active: { signal?: NodeJS.Signals; cleaning: boolean } | undefined;

/**
 * Holds Ctrl-C until release(). `whenStopped`: what the user is told when a second signal ends
 * the run at once (what the next run does about it). `warn` prints those notices (the command passes
 * its output's warn: util sits below ui and does not import it).
 */
export function holdSignals(opts: { firstNotice: string; whenStopped: string; warn: (line: string) => void }): SignalGuard {
  const state: { signal?: NodeJS.Signals; cleaning: boolean } = { cleaning: false };
  const previous = active;
  active = state;
  const onSignal = (signal: NodeJS.Signals) => {
    if (state.signal) {
      opts.warn(`stopped at once (${signal}): ${opts.whenStopped}`);
      process.exit(130);
    }
    state.signal = signal;
    opts.warn(`${signal === 'SIGINT' ? 'Ctrl-C' : signal}: ${opts.firstNotice} (press Ctrl-C again to stop at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get signal() {
      return state.signal;
    },
    beginCleanup() {
      state.cleaning = true;
    },
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (active === state) active = previous;
    },
  };
}

/** Throws InterruptedError when a held signal came and no clean-up has begun: nothing new starts. */
export function throwIfInterrupted(): void {
  if (active?.signal && !active.cleaning) throw new InterruptedError(`interrupted (${active.signal})`, undefined, SIGNAL_CODE);
}

const SIGNAL_CODE = 'signal';

/** The error a command turns into its own "interrupted: <what state things are in>": anything but such a sentence already. */
export function needsInterruptedMessage(error: unknown): boolean {
  return !(error instanceof InterruptedError) || error.code === SIGNAL_CODE;
}

/**
 * Whether a command is finishing what it began after a held signal (a restore's restart, an
 * upgrade's way back): its flyctl calls must run to their end, so signals are not passed on to them.
 */
export function isCleaningUp(): boolean {
  return active?.cleaning === true;
}

/** Whether a held signal came (during clean-up too). */
export function wasInterrupted(): boolean {
  return active?.signal !== undefined;
}

/** The held guard's clean-up begins (see SignalGuard.beginCleanup); no guard: nothing to do. */
export function beginCleanup(): void {
  if (active) active.cleaning = true;
}
