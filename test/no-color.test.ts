/**
 * Colour is for terminals, and NO_COLOR=1 or --no-color turns it off there too (no-color.org).
 * `script` (util-linux) gives the CLI a real pseudo-terminal; the first case proves colour does
 * appear on it, so the other two can fail.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, tempDir, TEST_SECRETS } from './helpers/cli.js';

const ESC = '\u001b[';

function onTerminal(args: string[], env: Record<string, string | undefined>, opts: { sized?: boolean } = {}): { code: number | null; output: string } {
  // A real terminal has a size; `script` without one gives the pty zero columns.
  const command = `${opts.sized === false ? '' : 'stty cols 100 rows 40; '}${[process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}`;
  const fullEnv: Record<string, string | undefined> = { ...process.env, TERM: 'xterm-256color', CI: undefined, NO_COLOR: undefined, FORCE_COLOR: undefined, ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY, ...env };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { env: fullEnv as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 30_000 });
  const output = r.stdout + r.stderr;
  if (output.includes(TEST_SECRETS.ANTHROPIC_API_KEY)) throw new Error('a secret reached the terminal');
  return { code: r.status, output };
}

function initArgs(): string[] {
  return ['init', '--yes', '--dir', join(tempDir(), 'gateway'), '--app', 'color-claw'];
}

describe('colour on a terminal', { timeout: 60_000 }, () => {
  it('a terminal without a width gets plain progress lines, not an endless spinner', () => {
    const args = initArgs();
    expect(onTerminal(args, {}).code).toBe(0);
    const r = onTerminal(['doctor', '--offline', '--dir', args[3]!], { COLUMNS: undefined }, { sized: false });
    expect(r.code, r.output.slice(0, 300)).toBe(0);
    // plain lines: no spinner frame (ora's dots) and no hidden cursor, however long the step took
    expect(r.output).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
    expect(r.output).not.toContain(`${ESC}?25l`);
  });

  it('is on by default', () => {
    const r = onTerminal(initArgs(), {});
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain(ESC);
  });

  it('is off with NO_COLOR=1: no escape sequence at all, spinners included', () => {
    const args = initArgs();
    const r = onTerminal(args, { NO_COLOR: '1' });
    expect(r.code, r.output).toBe(0);
    expect(r.output).not.toContain(ESC);
    const doctor = onTerminal(['doctor', '--offline', '--dir', args[3]!], { NO_COLOR: '1' });
    expect(doctor.code, doctor.output).toBe(0);
    expect(doctor.output).not.toContain(ESC);
  });

  it('is off with --no-color, on any command', () => {
    const args = initArgs();
    const r = onTerminal([...args, '--no-color'], {});
    expect(r.code, r.output).toBe(0);
    expect(r.output).not.toContain(ESC);
    const doctor = onTerminal(['doctor', '--offline', '--no-color', '--dir', args[3]!], {});
    expect(doctor.code, doctor.output).toBe(0);
    expect(doctor.output).not.toContain(ESC);
    expect(doctor.output).toMatch(/✔|✖|!/);
  });
});
