/**
 * Each test file of the fast tier gets its own temp folder as TMPDIR (os.tmpdir() reads it on every
 * call, and every CLI and flyctl-double process the file starts inherits it), removed when the file
 * is done: nothing a test, the CLI or the double leaves in the temp folder outlives its file.
 *
 * The suite's secret scan (test/global-setup.ts) reads every double's recorded argv at the very
 * end; the argv of the doubles removed here are archived first, as a double's own cleanup() does.
 */
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterAll } from 'vitest';

const previous = process.env['TMPDIR'];
const fileTmp = mkdtempSync(join(tmpdir(), 'clawdfly-file-'));
// As /tmp itself (sticky, open to all): the flyctl double's machine drops to the gateway's user
// (uid 1000, as on Fly), which must reach the files a test puts in its temp folder.
chmodSync(fileTmp, 0o1777);
process.env['TMPDIR'] = fileTmp;

afterAll(() => {
  const runDir = process.env['CLAWDFLY_TEST_RUN_DIR'];
  const states = runDir ? join(runDir, 'fakefly-states.txt') : '';
  if (states && existsSync(states)) {
    for (const state of readFileSync(states, 'utf8').split('\n')) {
      const recorded = join(state, 'invocations.jsonl');
      if (state.startsWith(fileTmp + sep) && existsSync(recorded)) appendFileSync(join(runDir!, 'invocations-archive.jsonl'), readFileSync(recorded));
    }
  }
  if (previous === undefined) delete process.env['TMPDIR'];
  else process.env['TMPDIR'] = previous;
  rmSync(fileTmp, { recursive: true, force: true, maxRetries: 3 });
});
