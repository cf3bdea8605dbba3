/** config, workspace: push the local gateway config (edited first for workspace), then restart. */
import { pushConfigFile } from '../../remote/config-transfer.js';
import { formatConfig } from '../../project/gateway-config.js';
import { writeFileAtomic } from '../../util/fs.js';
import { blocked } from './common.js';
import type { Fix } from './types.js';

export const configPushFix: Fix = {
  kind: 'config-push',
  plan(checks, ev) {
    const { project, machine: m } = ev;
    if (!m) return blocked(this.kind, checks, 'no machine');
    if (m.state !== 'started') return blocked(this.kind, checks, `machine ${m.id} is ${m.state} (start it first)`);
    const value = structuredClone(ev.localConfig?.value) as Record<string, unknown> | undefined;
    if (!value || !ev.localConfig?.ok) return blocked(this.kind, checks, `the local ${project.runtime.configFileName} is missing or invalid`);
    const steps: string[] = [];
    let text = project.configText!;
    if (checks.includes('workspace')) {
      const mount = m.config?.mounts?.[0]?.path ?? project.fly.mountDestination;
      if (!mount) return blocked(this.kind, checks, 'no volume mounted (see state-dir)');
      const agents = ((value['agents'] ??= {}) as Record<string, unknown>);
      const defaults = ((agents['defaults'] ??= {}) as Record<string, unknown>);
      defaults['workspace'] = `${mount}/workspace`;
      text = formatConfig(value);
      steps.push(`${project.runtime.configFileName}: agents.defaults.workspace = "${mount}/workspace"`);
    }
    steps.push(`clawdfly config push  (${project.runtime.configFileName} → ${project.remoteConfigPath} on ${m.id}, atomic, with a backup)`, `fly machine restart ${m.id} -a ${project.app}`);
    return {
      kind: this.kind,
      checks,
      steps,
      async apply(client, progress) {
        if (text !== project.configText) await writeFileAtomic(project.configPath, text);
        progress(`pushing ${project.runtime.configFileName}`);
        await pushConfigFile(client, project, m.id, text);
        progress(`restarting ${m.id}`);
        await client.restartMachine(m.id);
      },
    };
  },
};
