import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';

describe('runCli', () => {
  it('reports a CLI that outlives its timeout as a timeout, not as exit 1', async () => {
    await expect(runCli(['--version'], { timeoutMs: 1 })).rejects.toThrow(/did not exit within 1 ms/);
  });

  it('returns the exit code of a CLI that exits in time', async () => {
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
  });
});
