/**
 * `doctor --fix`: one plan per kind of repair, shown before it runs. Repairs that the next
 * `fly deploy` would undo on the machine go through fly.toml and a redeploy; memory is changed on
 * the machine AND in fly.toml; locks are removed only when their owner is provably gone.
 */
import { join } from 'node:path';
import type { FlyClient } from '../fly/client.js';
import { pushConfigFile } from '../remote/config-transfer.js';
import { formatConfig } from '../project/gateway-config.js';
import { heapFromNodeOptions, heapSizeMb } from '../project/render.js';
import { generateGatewayToken, writeSecrets } from '../project/secrets.js';
import { formatSecretsImport } from '../fly/secrets-import.js';
import { PROJECT_FILES } from '../project/paths.js';
import { registerSecret } from '../ui/redact.js';
import { writeFileAtomic } from '../util/fs.js';
import { devicesArgv, machineCmd, machineEnv, cmdBind, cmdPort } from './evidence.js';
import { GATEWAY_USER } from '../gateway/runtime.js';
import { removeStaleLocksArgv, staleReason } from './remote.js';
import { memoryStep } from './checks/memory.js';
import { neededSecrets } from './checks/secrets.js';
import { setCommandFlag, setEnv, setProcessCommand, setRestartAlways, setVmMemory, setVmSize, splitCommand, withHeap } from './flytoml-edit.js';
import type { CheckId, Evidence, FixKind } from './types.js';

export interface FixPlan {
  kind: FixKind;
  checks: CheckId[];
  /** What will happen, one line per action (shown before asking). */
  steps: string[];
  /** Why it cannot be done automatically (then steps are not run). */
  blocked?: string;
  apply(client: FlyClient, progress: (text: string) => void): Promise<void>;
}

/** The order repairs run in: cheap and local first, redeploy before pushes that need a started machine. */
export const FIX_ORDER: FixKind[] = ['lock', 'memory', 'secrets', 'redeploy', 'start', 'config-push', 'pairing'];

const noop = async () => undefined;

export function planFix(kind: FixKind, checks: CheckId[], ev: Evidence): FixPlan {
  const project = ev.project;
  const m = ev.machine;
  const app = project.app;
  switch (kind) {
    case 'lock': {
      const facts = ev.remote?.value;
      const stale = (facts?.locks ?? []).filter((l) => staleReason(l)).map((l) => l.path);
      if (!m) return { kind, checks, steps: [], blocked: 'no machine', apply: noop };
      return {
        kind,
        checks,
        steps: [
          ...(stale.length ? [`remove ${stale.join(', ')} on ${m.id} (each owner re-checked dead at delete time)`] : []),
          `fly machine restart ${m.id} -a ${app}`,
        ],
        async apply(client, progress) {
          if (stale.length) {
            progress('removing stale locks');
            await client.ssh(removeStaleLocksArgv(project.runtime, project.stateDir, facts!.lockBases, stale), { machineId: m.id });
          }
          progress(`restarting ${m.id}`);
          await client.restartMachine(m.id);
        },
      };
    }
    case 'memory': {
      if (!m) return { kind, checks, steps: [], blocked: 'no machine', apply: noop };
      const step = memoryStep(ev);
      const target = step.memoryMb;
      const newSize = step.vmSize !== (project.fly.vmSize ?? 'shared-cpu-1x') ? step.vmSize : undefined;
      const heap = heapSizeMb(target);
      const nodeOptions = withHeap(machineEnv(m)['NODE_OPTIONS'], heap);
      let text = project.flyTomlText;
      if (newSize) text = setVmSize(text, newSize);
      if (project.fly.memoryMb !== target) text = setVmMemory(text, target);
      if (heapFromNodeOptions(project.fly.env['NODE_OPTIONS']) !== heap) text = setEnv(text, 'NODE_OPTIONS', withHeap(project.fly.env['NODE_OPTIONS'], heap));
      return {
        kind,
        checks,
        steps: [
          `fly machine update ${m.id}${newSize ? ` --vm-size ${newSize}` : ''} --vm-memory ${target} -e NODE_OPTIONS=${nodeOptions} -y -a ${app}   (≈ $${step.costPerMonth.toFixed(2)}/month)`,
          ...(text !== project.flyTomlText ? [`fly.toml: [[vm]]${newSize ? ` size = "${newSize}",` : ''} memory = "${target}mb", [env] NODE_OPTIONS heap ${heap} MB (so the next deploy keeps it)`] : []),
        ],
        async apply(client, progress) {
          if (text !== project.flyTomlText) await writeFileAtomic(join(project.dir, PROJECT_FILES.flyToml), text);
          progress(`updating ${m.id} to ${target} MB`);
          await client.updateMachine(m.id, { vmSize: newSize, memoryMb: target, env: { NODE_OPTIONS: nodeOptions } });
        },
      };
    }
    case 'secrets': {
      const tokenName = project.runtime.env.gatewayToken;
      const names = new Set((ev.secrets?.value ?? []).map((s) => s.name));
      const wanted = new Set<string>();
      if (checks.includes('secrets')) for (const n of neededSecrets(ev).required) if (!names.has(n.name)) wanted.add(n.name);
      if (checks.includes('auth-token-bind') && !names.has(tokenName)) wanted.add(tokenName);
      const values: Record<string, string> = {};
      const generate = wanted.has(tokenName) && !project.secrets[tokenName];
      const absent: string[] = [];
      for (const name of wanted) {
        if (project.secrets[name]) values[name] = project.secrets[name]!;
        else if (name !== tokenName) absent.push(name);
      }
      if (absent.length && Object.keys(values).length === 0 && !generate) {
        return { kind, checks, steps: [], blocked: `no local value for ${absent.join(', ')} in ${PROJECT_FILES.secrets} (add it: clawdfly init --secrets-stdin)`, apply: noop };
      }
      return {
        kind,
        checks,
        steps: [
          ...(generate ? [`generate ${tokenName} into ${PROJECT_FILES.secrets}`] : []),
          `fly secrets import -a ${app}  ← ${[...Object.keys(values), ...(generate ? [tokenName] : [])].join(', ')} from ${PROJECT_FILES.secrets} (over stdin; restarts the machine)`,
          ...(absent.length ? [`still missing locally (set them yourself): ${absent.join(', ')}`] : []),
        ],
        async apply(client, progress) {
          if (generate) {
            const token = generateGatewayToken();
            registerSecret(token);
            values[tokenName] = token;
            await writeSecrets(project.dir, { ...project.secrets, [tokenName]: token });
          }
          progress('importing secrets');
          await client.importSecrets(formatSecretsImport(values), false);
        },
      };
    }
    case 'redeploy': {
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
      steps.push(`fly deploy -a ${app} -c fly.toml  (the deploy, not the machine, so the next deploy keeps it)`);
      return {
        kind,
        checks,
        steps,
        async apply(client, progress) {
          if (text !== project.flyTomlText) await writeFileAtomic(join(project.dir, PROJECT_FILES.flyToml), text);
          progress('deploying');
          await client.deploy({ cwd: project.dir, config: join(project.dir, PROJECT_FILES.flyToml), noPublicIps: project.exposure === 'private', onLine: progress });
        },
      };
    }
    case 'start': {
      if (!m) return { kind, checks, steps: [], blocked: 'no machine', apply: noop };
      return {
        kind,
        checks,
        steps: [`fly machine start ${m.id} -a ${app}`],
        async apply(client) {
          await client.startMachine(m.id);
        },
      };
    }
    case 'config-push': {
      if (!m) return { kind, checks, steps: [], blocked: 'no machine', apply: noop };
      if (m.state !== 'started') return { kind, checks, steps: [], blocked: `machine ${m.id} is ${m.state} (start it first)`, apply: noop };
      const value = structuredClone(ev.localConfig?.value) as Record<string, unknown> | undefined;
      if (!value || !ev.localConfig?.ok) return { kind, checks, steps: [], blocked: `the local ${project.runtime.configFileName} is missing or invalid`, apply: noop };
      const steps: string[] = [];
      let text = project.configText!;
      if (checks.includes('workspace')) {
        const mount = m.config?.mounts?.[0]?.path ?? project.fly.mountDestination;
        if (!mount) return { kind, checks, steps: [], blocked: 'no volume mounted (see state-dir)', apply: noop };
        const agents = ((value['agents'] ??= {}) as Record<string, unknown>);
        const defaults = ((agents['defaults'] ??= {}) as Record<string, unknown>);
        defaults['workspace'] = `${mount}/workspace`;
        text = formatConfig(value);
        steps.push(`${project.runtime.configFileName}: agents.defaults.workspace = "${mount}/workspace"`);
      }
      steps.push(`clawdfly config push  (${project.runtime.configFileName} → ${project.remoteConfigPath} on ${m.id}, atomic, with a backup)`, `fly machine restart ${m.id} -a ${app}`);
      return {
        kind,
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
    }
    case 'pairing': {
      const pending = ev.devices?.value?.pending ?? [];
      if (!m || !pending.length) return { kind, checks, steps: [], blocked: 'no pending pairing request', apply: noop };
      return {
        kind,
        checks,
        steps: pending.map((p) => `approve device pairing request ${p.requestId}${p.client ? ` (${p.client})` : ''}`),
        async apply(client, progress) {
          for (const p of pending) {
            progress(`approving ${p.requestId}`);
            await client.ssh(devicesArgv(project, m, ['approve', p.requestId]), { machineId: m.id, user: GATEWAY_USER });
          }
        },
      };
    }
  }
}
