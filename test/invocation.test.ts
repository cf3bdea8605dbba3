/** Printed commands come back the way clawdfly was invoked: `npx` when npx ran it, the user's --dir. */
import { afterEach, describe, expect, it } from 'vitest';
import { asInvoked, setInvocation } from '../src/ui/invocation.js';
import { COMMANDS } from '../src/commands/registry.js';
import { runCli, tempDir } from './helpers/cli.js';

const WORDS = new Map(COMMANDS.map((c) => [c.name, new Set((c.subcommands ?? []).map((s) => s.name))]));

describe('asInvoked', () => {
  afterEach(() => setInvocation({ commands: WORDS, env: {} }));

  it('adds npx and the --dir after the command words, leaves prose, other programs and commands that name a folder alone', () => {
    setInvocation({ dir: 'my gw', commands: WORDS, env: { npm_command: 'exec' } });
    expect(asInvoked('clawdfly config push')).toBe("npx clawdfly config push --dir 'my gw'");
    // options may come before a command's arguments: `devices --dir x approve` is what commander reads
    expect(asInvoked('run clawdfly devices approve --latest now')).toBe("run npx clawdfly devices --dir 'my gw' approve --latest now");
    expect(asInvoked('clawdfly deploy again to resume')).toBe("npx clawdfly deploy --dir 'my gw' again to resume");
    expect(asInvoked('clawdfly deploy --dir other')).toBe('npx clawdfly deploy --dir other');
    expect(asInvoked('npx clawdfly token')).toBe("npx clawdfly token --dir 'my gw'");
    expect(asInvoked('clawdflyx deploy; clawdfly nonsense; fly deploy')).toBe('clawdflyx deploy; clawdfly nonsense; fly deploy');
  });

  it('changes nothing for a plain run in the project folder', () => {
    setInvocation({ dir: '.', commands: WORDS, env: {} });
    expect(asInvoked('clawdfly config push')).toBe('clawdfly config push');
  });
});

describe('hints from the real CLI', () => {
  it('a refused command run with --dir (through npx) gives a hint to paste as it is', async () => {
    const dir = tempDir();
    const r = await runCli(['config', 'push', '--dir', dir], { viaNpx: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`npx clawdfly init --dir ${dir}`);
  });
});
