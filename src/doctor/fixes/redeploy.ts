/**
 * bind, port, state-dir, command-drift, crash-loop: what the next `fly deploy` would undo on the
 * machine is repaired in fly.toml, then deployed (the deploy, not the machine, so it stays).
 */
import { join } from 'node:path';
import { PROJECT_FILES } from '../../project/paths.js';
import { machineCmd, cmdBind, cmdPort } from '../evidence.js';
import { setCommandFlag, setEnv, setProcessCommand, setRestartAlways, splitCommand } from '../../project/flytoml-edit.js';
import { saveFlyToml } from './common.js';
import type { Fix } from './types.js';

export const redeployFix: Fix = {
  kind: 'redeploy',
  plan(checks, ev) {
    const { project, machine: m } = ev;
    const fly = project.fly;
    let cmd = splitCommand(fly.processCommand ?? '');
    const steps: string[] = [];
    if (checks.includes('command-drift') && m) {
      const live = machineCmd(m) ?? [];
      const healthy = live.includes('gateway') && cmdBind(live) === 'lan' && (fly.internalPort === undefined || cmdPort(live) === fly.internalPort);
      if (healthy) {
        cmd = [...live];
        steps.push(`fly.toml [processes] app ← the machine's command (${live.join(' ')})`);
      } else {
        steps.push(`keep fly.toml's command; the deploy replaces the machine's (${live.join(' ') || 'image CMD'})`);
      }
    }
    if (checks.includes('bind')) cmd = setCommandFlag(cmd, '--bind', 'lan');
    if (checks.includes('port') && fly.internalPort !== undefined) cmd = setCommandFlag(cmd, '--port', String(fly.internalPort));
    let text = project.flyTomlText;
    if (cmd.join('\u0000') !== splitCommand(fly.processCommand ?? '').join('\u0000')) {
      text = setProcessCommand(text, cmd);
      steps.push(`fly.toml [processes] app = "${cmd.join(' ')}"`);
    }
    const portEnv = project.runtime.env.gatewayPort;
    if (checks.includes('port') && fly.env[portEnv] !== undefined && fly.internalPort !== undefined && fly.env[portEnv] !== String(fly.internalPort)) {
      text = setEnv(text, portEnv, String(fly.internalPort));
      steps.push(`fly.toml [env] ${portEnv} = "${fly.internalPort}"`);
    }
    const stateEnv = project.runtime.env.stateDir;
    if (checks.includes('state-dir') && fly.mountDestination && fly.env[stateEnv] !== fly.mountDestination) {
      text = setEnv(text, stateEnv, fly.mountDestination);
      steps.push(`fly.toml [env] ${stateEnv} = "${fly.mountDestination}"`);
    }
    if (checks.includes('crash-loop') && fly.restartPolicy !== 'always') {
      text = setRestartAlways(text);
      steps.push('fly.toml [[restart]] policy = "always"');
    }
    steps.push(`fly deploy -a ${project.app} -c fly.toml  (the deploy, not the machine, so the next deploy keeps it)`);
    return {
      kind: this.kind,
      checks,
      steps,
      async apply(client, progress) {
        await saveFlyToml(project, text);
        progress('deploying');
        await client.deploy({ cwd: project.dir, config: join(project.dir, PROJECT_FILES.flyToml), noPublicIps: project.exposure === 'private', onLine: progress });
      },
    };
  },
};
