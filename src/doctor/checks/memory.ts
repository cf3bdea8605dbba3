/** memory: OOM kills, heap-limit crashes, silent restarts; too little memory or a heap as big as the VM. */
import { findings, configLines, crashExits, machineEnv } from '../evidence.js';
import { heapFromNodeOptions, heapSizeMb } from '../../project/render.js';
import { isMemoryExit } from '../../gateway/logs.js';
import type { Check } from '../types.js';
import { app, isResult, logEvidence, needMachine } from './common.js';

/** The seed: 512 MB is too small, 1 GB may OOM under load, 2 GB recommended. */
export const RECOMMENDED_MEMORY_MB = 2048;
const MIN_MEMORY_MB = 1024;

export function memoryTarget(current: number | undefined): number {
  return Math.max(RECOMMENDED_MEMORY_MB, current ?? 0);
}

export const memoryCheck: Check = {
  id: 'memory',
  title: 'enough memory (no OOM)',
  run(ev) {
    const fly = ev.project.fly;
    const problems: string[] = [];
    const evidence: string[] = [];
    const warnings: string[] = [];
    const tomlHeap = heapFromNodeOptions(fly.env['NODE_OPTIONS']);
    if (fly.memoryMb !== undefined) {
      if (fly.memoryMb < MIN_MEMORY_MB) problems.push(`fly.toml [[vm]] memory ${fly.memoryMb} MB is below ${MIN_MEMORY_MB} MB`);
      else if (fly.memoryMb < RECOMMENDED_MEMORY_MB) warnings.push(`fly.toml [[vm]] memory ${fly.memoryMb} MB (2048 recommended)`);
      if (tomlHeap !== undefined && tomlHeap >= fly.memoryMb) problems.push(`fly.toml NODE_OPTIONS heap ${tomlHeap} MB ≥ memory ${fly.memoryMb} MB`);
      if (problems.length || warnings.length) evidence.push(`fly.toml [[vm]] memory = ${fly.memoryMb} MB, NODE_OPTIONS = "${fly.env['NODE_OPTIONS'] ?? ''}"`);
    }
    let machineId: string | undefined;
    if (!ev.offline) {
      const m = needMachine(ev);
      if (!isResult(m)) {
        machineId = m.id;
        const mem = m.config?.guest?.memory_mb;
        const heap = heapFromNodeOptions(machineEnv(m)['NODE_OPTIONS']);
        const oomExits = crashExits(m).filter((e) => isMemoryExit(e.code, e.oom));
        const oomLines = findings(configLines(ev)).filter((f) => f.kind === 'oom');
        const signs = oomExits.length + oomLines.length > 0;
        if (mem !== undefined && mem < MIN_MEMORY_MB) problems.push(`machine ${m.id} has ${mem} MB`);
        else if (mem !== undefined && mem < RECOMMENDED_MEMORY_MB) (signs ? problems : warnings).push(`machine ${m.id} has ${mem} MB (2048 recommended)`);
        if (heap !== undefined && mem !== undefined && heap >= mem) problems.push(`machine ${m.id} heap ${heap} MB ≥ memory ${mem} MB`);
        if (signs) problems.push(`${oomExits.length} OOM exit(s) and ${oomLines.length} out-of-memory log line(s) since the machine's config last changed`);
        if (mem !== undefined && (problems.length || warnings.length)) evidence.push(`machine ${m.id} guest.memory_mb = ${mem}, NODE_OPTIONS = "${machineEnv(m)['NODE_OPTIONS'] ?? ''}"`);
        for (const e of oomExits.slice(0, 3)) evidence.push(`exit event: exit_code=${e.code ?? '?'} oom_killed=${e.oom} at ${new Date(e.at).toISOString()}`);
        for (const f of oomLines.slice(0, 3)) evidence.push(logEvidence(f.line));
      }
    }
    const target = memoryTarget(Math.max(fly.memoryMb ?? 0, ev.machine?.config?.guest?.memory_mb ?? 0));
    if (problems.length) {
      return {
        status: 'fail',
        summary: `out of memory: ${problems.join('; ')}`,
        evidence,
        fix: `${machineId ? `fly machine update ${machineId} --vm-memory ${target} -e NODE_OPTIONS=--max-old-space-size=${heapSizeMb(target)} -y -a ${app(ev)}, and ` : ''}fly.toml [[vm]] memory = "${target}mb", NODE_OPTIONS = "--max-old-space-size=${heapSizeMb(target)}"   (clawdfly doctor --fix does both)`,
      };
    }
    if (warnings.length) return { status: 'warn', summary: warnings.join('; '), evidence, fix: `fly.toml [[vm]] memory = "${RECOMMENDED_MEMORY_MB}mb"` };
    return { status: 'ok', summary: `${ev.machine?.config?.guest?.memory_mb ?? fly.memoryMb ?? '?'} MB, heap ${heapFromNodeOptions(machineEnv(ev.machine)['NODE_OPTIONS']) ?? tomlHeap ?? 'default'} MB, no OOM since the last config change` };
  },
  fixKind: () => 'memory',
};
