/** memory: changed on the machine now AND in fly.toml, so the next deploy keeps it. */
import { heapFromNodeOptions, heapSizeMb } from '../../project/render.js';
import { machineEnv } from '../evidence.js';
import { memoryStep } from '../checks/memory.js';
import { setEnv, setVmMemory, setVmSize, withHeap } from '../../project/flytoml-edit.js';
import { blocked, saveFlyToml } from './common.js';
import type { Fix } from './types.js';

export const memoryFix: Fix = {
  kind: 'memory',
  plan(checks, ev) {
    const { project, machine: m } = ev;
    if (!m) return blocked(this.kind, checks, 'no machine');
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
      kind: this.kind,
      checks,
      steps: [
        `fly machine update ${m.id}${newSize ? ` --vm-size ${newSize}` : ''} --vm-memory ${target} -e NODE_OPTIONS=${nodeOptions} -y -a ${project.app}   (≈ $${step.costPerMonth.toFixed(2)}/month)`,
        ...(text !== project.flyTomlText ? [`fly.toml: [[vm]]${newSize ? ` size = "${newSize}",` : ''} memory = "${target}mb", [env] NODE_OPTIONS heap ${heap} MB (so the next deploy keeps it)`] : []),
      ],
      async apply(client, progress) {
        await saveFlyToml(project, text);
        progress(`updating ${m.id} to ${target} MB`);
        await client.updateMachine(m.id, { vmSize: newSize, memoryMb: target, env: { NODE_OPTIONS: nodeOptions } });
      },
    };
  },
};
