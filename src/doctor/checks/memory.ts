/** memory: OOM kills, heap-limit crashes, silent restarts; too little memory or a heap as big as the VM. */
import { t } from '../../i18n/index.js';
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
  const tomlMb = ev.project.fly.memoryMb ?? 0;
  const vmSize = ev.project.fly.vmSize ?? 'shared-cpu-1x';
  const oom = outOfMemorySeen(ev);
  // "Double after an OOM at 2048 MB or more" (README): at the memory the machine ran out with, not
  // what fly.toml asks for. An OOM at 1024 on a machine fly.toml sizes at 2048 steps to 2048.
  const step = nextMemoryStep(vmSize, oom && machineMb ? machineMb : Math.max(tomlMb, machineMb), oom, RECOMMENDED_MEMORY_MB);
  // never below what fly.toml already asks for (the next deploy would set that anyway)
  return step.memoryMb >= tomlMb ? step : nextMemoryStep(vmSize, tomlMb, false, RECOMMENDED_MEMORY_MB);
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
      if (fly.memoryMb < MIN_MEMORY_MB) problems.push(t('doctor.memory.problem.tomlLow', { memoryMb: fly.memoryMb, min: MIN_MEMORY_MB }));
      else if (fly.memoryMb < RECOMMENDED_MEMORY_MB) warnings.push(t('doctor.memory.problem.tomlWarn', { memoryMb: fly.memoryMb }));
      if (tomlHeap !== undefined && tomlHeap >= fly.memoryMb) problems.push(t('doctor.memory.problem.tomlHeap', { heapMb: tomlHeap, memoryMb: fly.memoryMb }));
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
        if (mem !== undefined && mem < MIN_MEMORY_MB) problems.push(t('doctor.memory.problem.machineLow', { machine: m.id, memoryMb: mem }));
        else if (mem !== undefined && mem < RECOMMENDED_MEMORY_MB) (signs ? problems : warnings).push(t('doctor.memory.problem.machineWarn', { machine: m.id, memoryMb: mem }));
        if (heap !== undefined && mem !== undefined && heap >= mem) problems.push(t('doctor.memory.problem.machineHeap', { machine: m.id, heapMb: heap, memoryMb: mem }));
        if (oomExits.length + oomLines.length > 0) problems.push(t('doctor.memory.problem.oomSeen', { exits: oomExits.length, lines: oomLines.length }));
        if (watchdogPointsToMemory(ev)) problems.push(t('doctor.memory.problem.watchdog', { count: Math.max(frozen.length, 2) }));
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
        summary: t('doctor.memory.oom', { problems: problems.join('; '), step: describeStep(step, ev) }),
        evidence,
        fix: (machineId ? t('doctor.memory.fixMachine', { machine: machineId, sizeFlag, memoryMb: step.memoryMb, heapMb: heapSizeMb(step.memoryMb), app: app(ev) }) : '')
          + t('doctor.memory.fixToml', { memoryMb: step.memoryMb, size: sizeToml, heapMb: heapSizeMb(step.memoryMb), doesBoth: t('doctor.doesBoth') }),
      };
    }
    if (warnings.length) return { status: 'warn', summary: warnings.join('; '), evidence, fix: `fly.toml [[vm]] memory = "${RECOMMENDED_MEMORY_MB}mb"` };
    const heap = heapFromNodeOptions(machineEnv(ev.machine)['NODE_OPTIONS']) ?? tomlHeap ?? 'default';
    const since = ev.offline ? t('doctor.memory.notCheckedOffline') : t('doctor.memory.noOomSince');
    return { status: 'ok', summary: t('doctor.memory.ok', { memoryMb: ev.machine?.config?.guest?.memory_mb ?? fly.memoryMb ?? '?', heapMb: heap, since }) };
  },
  fixKind: () => 'memory',
};
