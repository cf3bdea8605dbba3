/** memory: OOM kills, heap-limit crashes, silent restarts; too little memory or a heap as big as the VM. */
import { findings, configLines, crashExits, machineEnv } from '../evidence.js';
import { heapFromNodeOptions, heapSizeMb } from '../../project/render.js';
import { isMemoryExit } from '../../gateway/logs.js';
import type { Check, Evidence } from '../types.js';
import { nextMemoryStep, type MemoryStep } from '../../project/fly-platform.js';
import { app, isResult, logEvidence, needMachine } from './common.js';
import { describeRestart, watchdogPointsToMemory, watchdogRestarts } from './watchdog.js';

/** The seed: 512 MB is too small, 1 GB may OOM under load, 2 GB recommended. */
export const RECOMMENDED_MEMORY_MB = 2048;
const MIN_MEMORY_MB = 1024;

/** The step the fix takes: up to 2048 MB, or double (a bigger size if needed) after an OOM there. */
export function memoryStep(ev: Evidence): MemoryStep {
  const machineMb = ev.machine?.config?.guest?.memory_mb ?? 0;
  const current = Math.max(ev.project.fly.memoryMb ?? 0, machineMb);
  const vmSize = ev.project.fly.vmSize ?? 'shared-cpu-1x';
  return nextMemoryStep(vmSize, current, outOfMemorySeen(ev), RECOMMENDED_MEMORY_MB);
}

function outOfMemorySeen(ev: Evidence): boolean {
  if (ev.offline || !ev.machine) return false;
  return crashExits(ev.machine).some((e) => isMemoryExit(e.code, e.oom)) || findings(configLines(ev)).some((f) => f.kind === 'oom') || watchdogPointsToMemory(ev);
}

function describeStep(step: MemoryStep, ev: Evidence): string {
  const size = step.vmSize !== (ev.project.fly.vmSize ?? 'shared-cpu-1x') ? ` on ${step.vmSize}` : '';
  return `${step.memoryMb} MB${size} (≈ $${step.costPerMonth.toFixed(2)}/month)`;
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
        // a gateway frozen again and again under heap pressure is the same story as an OOM
        const frozen = watchdogPointsToMemory(ev) ? watchdogRestarts(ev) : [];
        const signs = oomExits.length + oomLines.length > 0 || watchdogPointsToMemory(ev);
        if (mem !== undefined && mem < MIN_MEMORY_MB) problems.push(`machine ${m.id} has ${mem} MB`);
        else if (mem !== undefined && mem < RECOMMENDED_MEMORY_MB) (signs ? problems : warnings).push(`machine ${m.id} has ${mem} MB (2048 recommended)`);
        if (heap !== undefined && mem !== undefined && heap >= mem) problems.push(`machine ${m.id} heap ${heap} MB ≥ memory ${mem} MB`);
        if (oomExits.length + oomLines.length > 0) problems.push(`${oomExits.length} OOM exit(s) and ${oomLines.length} out-of-memory log line(s) since the machine's config last changed`);
        if (watchdogPointsToMemory(ev)) problems.push(`the watchdog restarted a frozen gateway ${Math.max(frozen.length, 2)}× or more since the machine's config last changed`);
        if (mem !== undefined && (problems.length || warnings.length)) evidence.push(`machine ${m.id} guest.memory_mb = ${mem}, NODE_OPTIONS = "${machineEnv(m)['NODE_OPTIONS'] ?? ''}"`);
        for (const e of oomExits.slice(0, 3)) evidence.push(`exit event: exit_code=${e.code ?? '?'} oom_killed=${e.oom} at ${new Date(e.at).toISOString()}`);
        for (const f of oomLines.slice(0, 3)) evidence.push(logEvidence(f.line));
        for (const r of frozen.slice(-3)) evidence.push(`watchdog restart at ${describeRestart(r)}`);
      }
    }
    const step = memoryStep(ev);
    const sizeFlag = step.vmSize !== (fly.vmSize ?? 'shared-cpu-1x') ? ` --vm-size ${step.vmSize}` : '';
    const sizeToml = sizeFlag ? `, size = "${step.vmSize}"` : '';
    if (problems.length) {
      return {
        status: 'fail',
        summary: `out of memory: ${problems.join('; ')} → ${describeStep(step, ev)}`,
        evidence,
        fix: `${machineId ? `fly machine update ${machineId}${sizeFlag} --vm-memory ${step.memoryMb} -e NODE_OPTIONS=--max-old-space-size=${heapSizeMb(step.memoryMb)} -y -a ${app(ev)}, and ` : ''}fly.toml [[vm]] memory = "${step.memoryMb}mb"${sizeToml}, NODE_OPTIONS = "--max-old-space-size=${heapSizeMb(step.memoryMb)}"   (clawdfly doctor --fix does both)`,
      };
    }
    if (warnings.length) return { status: 'warn', summary: warnings.join('; '), evidence, fix: `fly.toml [[vm]] memory = "${RECOMMENDED_MEMORY_MB}mb"` };
    const heap = heapFromNodeOptions(machineEnv(ev.machine)['NODE_OPTIONS']) ?? tomlHeap ?? 'default';
    const since = ev.offline ? 'out-of-memory crashes not checked offline' : 'no OOM since the last config change';
    return { status: 'ok', summary: `${ev.machine?.config?.guest?.memory_mb ?? fly.memoryMb ?? '?'} MB, heap ${heap} MB, ${since}` };
  },
  fixKind: () => 'memory',
};
