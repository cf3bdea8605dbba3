/**
 * Outside checks for the two things ported twice (once in src/, once in the flyctl double, from
 * the same reading of flyctl): both ports against flyctl's OWN data, copied into test/fixtures/
 * (see its README for the commits).
 * - the `secrets import` parser: every case of flyctl's parser_test.go, through
 *   src/fly/secrets-import.ts's parser and the double's; and what clawdfly writes for those values
 *   reads back unchanged;
 * - the VM sizes: src/project/fly-platform.ts's presets and the double's against fly-go's
 *   MachinePresets and its memory limits.
 * In-process: no CLI, no double process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatSecretsImport, parseFlyctlSecretsImport } from '../src/fly/secrets-import.js';
import { guestMemoryError, VM_PRESETS } from '../src/project/fly-platform.js';
// @ts-expect-error plain ESM without types
import { parseSecretsImport as doubleParser } from './fakefly/lib/commands.mjs';
// @ts-expect-error plain ESM without types
import { GUEST_PRESETS as DOUBLE_PRESETS } from './fakefly/lib/appconfig.mjs';
import { ROOT } from './helpers/cli.js';

const fixture = (name: string) => JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', name), 'utf8'));

interface ParserCase {
  goTest: string;
  input: string;
  expected: Record<string, string>;
}
const parser = fixture('flyctl-secrets-parser-cases.json') as { origin: string; cases: ParserCase[] };

describe("secrets import parser: flyctl's own test cases (parser_test.go)", () => {
  it('the fixture holds every case, with its origin', () => {
    expect(parser.origin).toMatch(/superfly\/flyctl.*parser_test\.go at commit [0-9a-f]{40}/);
    expect(parser.cases.length).toBe(13);
  });

  for (const c of parser.cases) {
    it(`${c.goTest}: src/fly/secrets-import.ts reads it as flyctl does`, () => {
      expect(parseFlyctlSecretsImport(c.input)).toEqual(c.expected);
    });
    it(`${c.goTest}: the double reads it as flyctl does`, () => {
      expect(doubleParser(c.input)).toEqual(c.expected);
    });
    it(`${c.goTest}: what clawdfly writes for these values reads back unchanged`, () => {
      const written = formatSecretsImport(c.expected);
      expect(parseFlyctlSecretsImport(written)).toEqual(c.expected);
      expect(doubleParser(written)).toEqual(c.expected);
    });
  }
});

interface Preset {
  cpu_kind: string;
  cpus: number;
  memory_mb: number;
  gpu_kind?: string;
}
const vm = fixture('flyctl-vm-presets.json') as {
  origin: string;
  limits: { minMemoryMbPerSharedCpu: number; minMemoryMbPerCpu: number; maxMemoryMbPerSharedCpu: number; maxMemoryMbPerCpu: number };
  presets: Record<string, Preset>;
};
/** clawdfly offers the CPU sizes; the GPU presets (a100-*, l40s) are out of its scope. */
const cpuPresets = Object.fromEntries(Object.entries(vm.presets).filter(([, p]) => !p.gpu_kind));

describe("VM sizes: fly-go's MachinePresets", () => {
  it('src/project/fly-platform.ts has exactly the CPU presets, with their kind, CPUs and default memory', () => {
    expect(vm.origin).toMatch(/superfly\/fly-go.*machine_types\.go.*[0-9a-f]{40}/);
    const ours = Object.fromEntries(Object.entries(VM_PRESETS).map(([name, p]) => [name, { cpu_kind: p.cpuKind, cpus: p.cpus, memory_mb: p.defaultMemoryMb }]));
    expect(ours).toEqual(cpuPresets);
  });

  it("the double's GUEST_PRESETS are the same CPU presets", () => {
    expect(DOUBLE_PRESETS).toEqual(cpuPresets);
  });

  it("guestMemoryError's bounds are fly-go's per-CPU limits, for every preset", () => {
    const { minMemoryMbPerSharedCpu, minMemoryMbPerCpu, maxMemoryMbPerSharedCpu, maxMemoryMbPerCpu } = vm.limits;
    for (const preset of Object.values(VM_PRESETS)) {
      const [min, max] = preset.cpuKind === 'shared' ? [minMemoryMbPerSharedCpu * preset.cpus, maxMemoryMbPerSharedCpu * preset.cpus] : [minMemoryMbPerCpu * preset.cpus, maxMemoryMbPerCpu * preset.cpus];
      expect(guestMemoryError(preset, min), `${preset.cpuKind} ${preset.cpus} at ${min}`).toBeUndefined();
      expect(guestMemoryError(preset, max), `${preset.cpuKind} ${preset.cpus} at ${max}`).toBeUndefined();
      expect(guestMemoryError(preset, max * 2), `${preset.cpuKind} ${preset.cpus} at ${max * 2}`).toMatch(/too high/);
      if (min > 1024) expect(guestMemoryError(preset, min - 1024), `${preset.cpuKind} ${preset.cpus} below ${min}`).toMatch(/too low/);
      // and the preset's own default memory is valid for it
      expect(guestMemoryError(preset, preset.defaultMemoryMb)).toBeUndefined();
    }
  });
});
