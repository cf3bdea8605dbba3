/**
 * Progress for multi-step commands: an ora spinner per step with elapsed time on a terminal,
 * plain lines otherwise (CI, pipes), nothing on stdout in --json mode.
 */
import { isJsonMode, out, untrusted } from './output.js';
import { redact } from './redact.js';
import { throwIfInterrupted } from '../util/interrupt.js';

export interface StepRecord {
  id: string;
  status: 'done' | 'skipped' | 'failed';
  ms: number;
  detail?: string;
}

/**
 * A spinner needs a terminal with a width: on a zero-column pseudo-terminal (`script` run without
 * one, some CI runners) ora's line clearing never ends and floods the output. With NO_COLOR (or
 * --no-color) the output is plain lines: no colour and no cursor movement.
 */
function fancy(): boolean {
  if (process.env['NO_COLOR'] || process.env['CI'] === 'true' || isJsonMode()) return false; // NO_COLOR: plain text, no escapes
  return process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0;
}

/** Progress shows as a spinner (a terminal), not as lines. */
export const isFancyProgress = fancy;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export class Progress {
  readonly steps: StepRecord[] = [];

  async run<T>(id: string, label: string, fn: (update: (text: string) => void) => Promise<T>): Promise<T> {
    // Ctrl-C held by a guard (util/interrupt.ts): no new step starts.
    throwIfInterrupted();
    const started = Date.now();
    let spinner: import('ora').Ora | undefined;
    if (fancy()) {
      const { default: ora } = await import('ora');
      spinner = ora({ text: redact(label), stream: process.stderr }).start();
    } else if (!isJsonMode()) {
      out.step(label);
    }
    // progress text is flyctl's or the machine's own line: through the output filter
    const update = (raw: string) => {
      const text = untrusted(raw);
      if (spinner) spinner.text = redact(`${label} — ${text}`);
      else out.verbose(`  ${text}`);
    };
    try {
      const result = await fn(update);
      const ms = Date.now() - started;
      this.steps.push({ id, status: 'done', ms });
      if (spinner) spinner.succeed(redact(`${label} ${seconds(ms)}`));
      else if (!isJsonMode()) out.success(`${label} (${seconds(ms)})`);
      return result;
    } catch (error) {
      const ms = Date.now() - started;
      this.steps.push({ id, status: 'failed', ms });
      if (spinner) spinner.fail(redact(`${label} ${seconds(ms)}`));
      throw error;
    }
  }

  skip(id: string, label: string, reason: string): void {
    this.steps.push({ id, status: 'skipped', ms: 0, detail: reason });
    if (!isJsonMode()) out.info(`  ${label}: ${reason}`);
  }
}
