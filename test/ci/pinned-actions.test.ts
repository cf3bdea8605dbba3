/**
 * Issue 30, finding 6: the workflow `init --github-actions` writes runs third-party code with
 * FLY_API_TOKEN and every provider key in reach (setup-flyctl installs the flyctl that receives
 * them). Every `uses:` is pinned to a full commit SHA, never a tag or a branch that can be moved,
 * with the tag it was in a comment (README "Deploy from CI" says how to bump them).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir, TEST_SECRETS } from '../helpers/cli.js';
import { ciSpecFlags } from '../helpers/clawdfly-pack.js';

/** `uses: owner/repo[/path]@<40 hex> # <tag>` */
const PINNED = /^\s*(?:-\s+)?uses:\s+([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_./-]+)?)@([0-9a-f]{40})\s+#\s+(v?\d+(?:\.\d+)*)\s*$/;

describe('the generated workflow', () => {
  it('pins every action to a full commit SHA, with its tag in a comment', async () => {
    const dir = join(tempDir(), 'gateway');
    const r = await runCli(['init', '--yes', '--dir', dir, '--app', 'test-claw', '--runtime', 'openclaw', '--github-actions', ...ciSpecFlags()], { env: { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY } });
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(join(dir, '.github', 'workflows', 'deploy.yml'), 'utf8');
    const uses = text.split('\n').filter((line) => /^\s*(?:-\s+)?uses:/.test(line));
    expect(uses.length).toBeGreaterThanOrEqual(3);
    for (const line of uses) expect(line, line).toMatch(PINNED);
    const actions = uses.map((line) => PINNED.exec(line)![1]);
    expect(actions).toEqual(expect.arrayContaining(['actions/checkout', 'actions/setup-node', 'superfly/flyctl-actions/setup-flyctl']));
    // no branch or moving tag anywhere, even outside a `uses:` line
    expect(text).not.toMatch(/@(master|main|v\d+)\b/);
  }, 60_000);
});
