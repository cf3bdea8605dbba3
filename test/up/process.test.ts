/** src/util/process.ts: exit codes, a missing program, a timeout, stdin, and the PATH lookup. */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findOnPath, runProcess, spawnProcess } from '../../src/util/process.js';

const node = process.execPath;

describe('runProcess', () => {
  it('returns code, stdout and stderr without throwing, input on stdin', async () => {
    const r = await runProcess(node, ['-e', 'process.stdin.pipe(process.stdout); process.stderr.write("e"); process.exitCode = 3'], { input: 'hello\n' });
    expect(r).toEqual({ code: 3, stdout: 'hello\n', stderr: 'e', timedOut: false });
  });

  it('127 for a program that does not exist', async () => {
    const r = await runProcess(join(tmpdir(), 'no-such-program-here'), []);
    expect(r.code).toBe(127);
    expect(r.stderr).not.toBe('');
  });

  it('kills a program that outlives its timeout', async () => {
    const r = await runProcess(node, ['-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 500 });
    // killed, not waited for: the child's own 60 s timer never fired (it would exit 0)
    expect(r.timedOut).toBe(true);
    expect(r.code).not.toBe(0);
  });
});

describe('spawnProcess', () => {
  it('kills a long-running child after timeoutMs', async () => {
    const child = spawnProcess(node, ['-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 300 });
    const signal = await new Promise((res) => child.on('close', (_code, s) => res(s)));
    expect(signal).toBe('SIGKILL');
  });
});

describe('findOnPath', () => {
  it('finds only executable files, in PATH order', () => {
    const a = mkdtempSync(join(tmpdir(), 'clawdfly-path-a-'));
    const b = mkdtempSync(join(tmpdir(), 'clawdfly-path-b-'));
    writeFileSync(join(a, 'tool'), 'not executable');
    writeFileSync(join(b, 'tool'), '#!/bin/sh\n');
    chmodSync(join(b, 'tool'), 0o755);
    expect(findOnPath('tool', `${a}:${b}`)).toBe(join(b, 'tool'));
    expect(findOnPath('missing', `${a}:${b}`)).toBeUndefined();
    expect(findOnPath(join(b, 'tool'), '')).toBe(join(b, 'tool'));
  });
});
