/**
 * clawdfly on a real terminal: `script` (util-linux) gives the CLI a pseudo-terminal, and the test
 * answers each question when it appears, like a person would (expect-style). Shared by the
 * wizard tests (test/init/wizard.test.ts, test/i18n/wizard-zh.test.ts). Every wait is for
 * evidence in the output (checked as it arrives, no polling interval); the timeouts only turn a
 * hang into a readable failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';
import { BIN } from './cli.js';

export const ENTER = '\r';
export const UP = '\x1b[A';
export const DOWN = '\x1b[B';
export const SPACE = ' ';
export const CTRL_U = '\x15';

/* eslint-disable no-control-regex */
const plain = (text: string) => text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

export class Terminal {
  private output = '';
  private seen = 0;
  /** Called on every chunk of output (the waits below). */
  private readonly listeners = new Set<() => void>();
  readonly exited: Promise<number>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => {
      this.output += d.toString('utf8');
      for (const listener of [...this.listeners]) listener();
    });
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  }

  get text(): string {
    return plain(this.output);
  }

  /** Waits until `pattern` appears in output not yet consumed, consumes it, and returns the match. */
  expect(pattern: RegExp | string, timeoutMs = 20_000): Promise<string> {
    const find = (): string | undefined => {
      const rest = this.text.slice(this.seen);
      const at = typeof pattern === 'string' ? (rest.includes(pattern) ? { index: rest.indexOf(pattern), text: pattern } : undefined) : (() => {
        const m = rest.match(pattern);
        return m ? { index: m.index!, text: m[0] } : undefined;
      })();
      if (!at) return undefined;
      this.seen += at.index + at.text.length;
      return at.text;
    };
    return this.until(find, () => `${pattern}; terminal shows:\n${this.text.slice(this.seen).slice(-2000)}`, timeoutMs);
  }

  /** Types keys in one write, as a paste would arrive. */
  type(keys: string): void {
    this.child.stdin!.write(keys);
  }

  /**
   * Sends keys one at a time, each after the prompt answered the previous one: every key a prompt
   * reads re-renders it (an echoed character, a mask, a moved cursor, the next question), so new
   * output is the evidence that it was read. (Ctrl-U, which may change nothing on screen, is
   * always followed by text that does.)
   */
  async send(...keys: string[]): Promise<void> {
    for (const key of keys) {
      const before = this.output.length;
      this.child.stdin!.write(key);
      if (key === CTRL_U) continue;
      await this.until(() => (this.output.length > before ? true : undefined), () => `the terminal to answer ${JSON.stringify(key.length > 12 ? `${key.slice(0, 4)}…` : key)}; terminal shows:\n${this.text.slice(-2000)}`);
    }
  }

  /** Resolves with check()'s first defined answer, checked now and on every chunk of output. */
  private until<T>(check: () => T | undefined, what: () => string, timeoutMs = 20_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const now = check();
      if (now !== undefined) return resolve(now);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const listener = () => {
        const answer = check();
        if (answer !== undefined) {
          done();
          resolve(answer);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what()}`));
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** `clawdfly <args>` on a pty of the given size, in env (undefined values removed). */
export function onTerminal(args: string[], env: Record<string, string | undefined>, size: { cols: number; rows: number } = { cols: 200, rows: 50 }): Terminal {
  const command = `stty cols ${size.cols} rows ${size.rows}; exec ${[process.execPath, BIN, ...args].map((a) => JSON.stringify(a)).join(' ')}`;
  const fullEnv: Record<string, string | undefined> = { ...env };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: fullEnv as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  running.push(child);
  return new Terminal(child);
}
