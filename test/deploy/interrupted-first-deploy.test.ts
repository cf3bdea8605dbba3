// A first deploy interrupted (Ctrl-C) after `fly deploy` built and deployed the image, while it
// waits to see the machine: the run exits 130, and the re-run does not build the image again.
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { startCli } from '../support/running-cli.js';
import { APP, newProject, stopAppServer, verb } from './setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(stopAppServer);

/** flyctl that, once `deploy` has succeeded, hangs on the next `machines list` (as a slow network would). */
function hangAfterDeploy(): { flyctl: string; hanging: string } {
  const dir = tempDir('clawdfly-hang-');
  const flyctl = join(dir, 'flyctl');
  const deployed = join(dir, 'deployed');
  const hanging = join(dir, 'hanging');
  writeFileSync(
    flyctl,
    `#!/bin/sh
case "$1" in
  deploy) flyctl "$@"; code=$?; [ $code = 0 ] && : > ${JSON.stringify(deployed)}; exit $code ;;
  machines) if [ -e ${JSON.stringify(deployed)} ]; then : > ${JSON.stringify(hanging)}; exec sleep 120; fi ;;
esac
exec flyctl "$@"
`,
  );
  chmodSync(flyctl, 0o755);
  return { flyctl, hanging };
}

it('Ctrl-C after the image was deployed, before the machine was seen: exit 130, and the re-run does not rebuild', async () => {
  const p = await newProject();
  const { flyctl, hanging } = hangAfterDeploy();
  const cli = startCli(['deploy', '--yes', '--dir', p.dir, '--flyctl', flyctl], { ...process.env, ...p.env, NO_COLOR: '1', CI: 'true' });
  for (let waited = 0; !existsSync(hanging); waited += 100) {
    if (waited > 90_000) throw new Error(`the deploy never got past fly deploy:\n${cli.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  cli.child.kill('SIGINT');
  const exit = await cli.exitWithin(30_000);
  expect({ code: exit.code, signal: exit.signal }, cli.stderr()).toEqual({ code: 130, signal: null });
  const deploys = () => p.fake.invocations().filter((i) => verb(i) === 'deploy').length;
  expect(deploys()).toBe(1);

  const plan = await p.deploy(['--dry-run', '--json']);
  expect(plan.code, plan.stderr).toBe(0);
  const steps = (JSON.parse(plan.stdout) as { plan?: { steps: { id: string; action: string; reason: string }[] }; steps?: { id: string; action: string; reason: string }[] });
  const deployStep = (plan.stdout.includes('"steps"') ? (steps.plan?.steps ?? steps.steps)! : []).find((s) => s.id === 'deploy');
  expect(deployStep, plan.stdout).toMatchObject({ action: 'skip' });

  const again = await p.deploy(['--yes']);
  expect(again.code, again.stderr).toBe(0);
  expect(deploys()).toBe(1);
  expect(p.fake.machines(APP)[0]!.state).toBe('started');
}, 240_000);
