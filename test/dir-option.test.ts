/** `--dir` naming a file is refused once, at the boundary: exit 2, one cause, the fix, no stack trace. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers/cli.js';
import { useInProcessCli } from './helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

describe('--dir pointing at a file', () => {
  const file = join(tempDir(), 'not-a-folder.txt');
  writeFileSync(file, 'keep me\n');

  for (const [name, args] of [
    ['init', ['init', '--yes', '--app', 'dir-claw', '--dir', file]],
    ['init into a path through a file', ['init', '--yes', '--app', 'dir-claw', '--dir', join(file, 'gateway')]],
    ['config validate', ['config', 'validate', '--dir', file]],
    ['doctor --offline', ['doctor', '--offline', '--dir', file]],
    ['deploy --dry-run', ['deploy', '--dry-run', '--dir', file]],
  ] as const) {
    it(`${name}: exit 2 with the cause and the fix, nothing written`, async () => {
      const r = await runCli([...args]);
      expect(r.code, r.stderr).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^✖ --dir .*is a file, not a folder$/);
      expect(lines[1]).toContain('--dir <the project folder>');
      expect(r.stderr).not.toMatch(/ENOTDIR|    at /);
      expect(readFileSync(file, 'utf8')).toBe('keep me\n');
    });
  }
});
