/**
 * Fly.io platform facts clawdfly checks locally, before any remote call: regions, VM presets,
 * the guest rules flyctl itself applies (flyctl.md §2.10), name rules, and list prices for the
 * cost estimate. Embedded so `init` works offline.
 */
import { UsageError } from '../errors.js';

export const REGIONS: Record<string, string> = {
  ams: 'Amsterdam, Netherlands',
  arn: 'Stockholm, Sweden',
  bom: 'Mumbai, India',
  cdg: 'Paris, France',
  dfw: 'Dallas, Texas (US)',
  ewr: 'Secaucus, NJ (US)',
  fra: 'Frankfurt, Germany',
  gru: 'São Paulo, Brazil',
  iad: 'Ashburn, Virginia (US)',
  jnb: 'Johannesburg, South Africa',
  lax: 'Los Angeles, California (US)',
  lhr: 'London, United Kingdom',
  nrt: 'Tokyo, Japan',
  ord: 'Chicago, Illinois (US)',
  sin: 'Singapore',
  sjc: 'San Jose, California (US)',
  syd: 'Sydney, Australia',
  yyz: 'Toronto, Canada',
};

/** Shown first in the wizard (the seed's suggestions and the common picks). */
export const FEATURED_REGIONS = ['iad', 'lhr', 'sjc', 'fra', 'ams', 'nrt', 'sin', 'syd'];

/**
 * Time zones of mainland China, Hong Kong, Macau, Taiwan and their neighbours without a Fly region
 * (IANA names and their old aliases). Fly has no region there (no hkg).
 */
const CHINA_TIME_ZONES = new Set([
  'Asia/Shanghai', 'Asia/Chongqing', 'Asia/Chungking', 'Asia/Harbin', 'Asia/Urumqi', 'Asia/Kashgar', 'PRC',
  'Asia/Hong_Kong', 'Hongkong', 'Asia/Macau', 'Asia/Macao', 'Asia/Taipei', 'ROC', 'Asia/Ulaanbaatar', 'Asia/Manila',
]);
/** The real regions closest to China, nearest first (Tokyo, Singapore, then Mumbai and Sydney). */
export const CHINA_NEAR_REGIONS = ['nrt', 'sin', 'bom', 'syd'];

/** The user's time zone: TZ when set (as the C library reads it), else what Intl resolves. */
export function userTimeZone(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const tz = env['TZ']?.replace(/^:/, '').trim();
  if (tz) return tz;
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

export function isNearChina(timeZone: string | undefined): boolean {
  return timeZone !== undefined && CHINA_TIME_ZONES.has(timeZone);
}

/** The wizard's region order: the closest real regions first in and near China, the usual picks elsewhere. */
export function regionOrder(timeZone: string | undefined): string[] {
  const first = isNearChina(timeZone) ? [...CHINA_NEAR_REGIONS, ...FEATURED_REGIONS.filter((c) => !CHINA_NEAR_REGIONS.includes(c))] : FEATURED_REGIONS;
  return [...first, ...Object.keys(REGIONS).filter((c) => !first.includes(c))];
}

export type CpuKind = 'shared' | 'performance';

export interface VmPreset {
  cpuKind: CpuKind;
  cpus: number;
  /** What Fly gives the preset when no memory is set. */
  defaultMemoryMb: number;
}

export const VM_PRESETS: Record<string, VmPreset> = {
  'shared-cpu-1x': { cpuKind: 'shared', cpus: 1, defaultMemoryMb: 256 },
  'shared-cpu-2x': { cpuKind: 'shared', cpus: 2, defaultMemoryMb: 512 },
  'shared-cpu-4x': { cpuKind: 'shared', cpus: 4, defaultMemoryMb: 1024 },
  'shared-cpu-8x': { cpuKind: 'shared', cpus: 8, defaultMemoryMb: 2048 },
  'performance-1x': { cpuKind: 'performance', cpus: 1, defaultMemoryMb: 2048 },
  'performance-2x': { cpuKind: 'performance', cpus: 2, defaultMemoryMb: 4096 },
  'performance-4x': { cpuKind: 'performance', cpus: 4, defaultMemoryMb: 8192 },
  'performance-8x': { cpuKind: 'performance', cpus: 8, defaultMemoryMb: 16384 },
  'performance-16x': { cpuKind: 'performance', cpus: 16, defaultMemoryMb: 32768 },
};

/** flyctl's own guest validation; returns flyctl's error text, or undefined when the size is valid. */
export function guestMemoryError(preset: VmPreset, memoryMb: number): string | undefined {
  const [step, min, max] =
    preset.cpuKind === 'shared' ? [256, 256 * preset.cpus, 2048 * preset.cpus] : [1024, 2048 * preset.cpus, 8192 * preset.cpus];
  if (memoryMb % step !== 0) return `invalid memory size: ${memoryMb} MB is not a multiple of ${step} MB for ${preset.cpuKind} CPUs`;
  if (memoryMb < min) return `memory size for config is too low: ${memoryMb} MB is below ${min} MB for ${preset.cpus} ${preset.cpuKind} CPU(s)`;
  if (memoryMb > max) return `memory size for config is too high: ${memoryMb} MB is above ${max} MB for ${preset.cpus} ${preset.cpuKind} CPU(s)`;
  return undefined;
}

/** Fly app names: lowercase letters, digits and dashes, under 63 characters, starting with a letter. */
export const APP_NAME_RE = /^[a-z][a-z0-9-]{0,61}$/;

/** An app name as Fly accepts it, or a usage error (exit 2) naming the rule and the flag. */
export function checkAppName(name: string): string {
  if (!APP_NAME_RE.test(name)) {
    throw new UsageError(
      `invalid app name "${name}": Fly app names use lowercase letters, digits and dashes, start with a letter and are under 63 characters`,
      '--app my-gateway',
      'bad-app-name',
    );
  }
  return name;
}
/** Volume names: lowercase letters, digits and underscores, at most 30 characters. */
export const VOLUME_NAME_RE = /^[a-z0-9_]{1,30}$/;

/**
 * Monthly list price in USD (Fly's published per-second prices × 30 days, iad): shared CPUs
 * ≈ $1.94 each with 256 MB included, performance CPUs ≈ $31 each with 2 GB included,
 * extra RAM ≈ $5/GB, volumes $0.15/GB. Bandwidth and the free allowance are left out.
 */
export function estimateMonthlyCost(preset: VmPreset, memoryMb: number, volumeGb: number): number {
  const perCpu = preset.cpuKind === 'shared' ? 1.94 : 31.0;
  const includedMb = preset.cpuKind === 'shared' ? 256 * preset.cpus : 2048 * preset.cpus;
  const extraGb = Math.max(0, memoryMb - includedMb) / 1024;
  return Math.round((perCpu * preset.cpus + extraGb * 5 + volumeGb * 0.15) * 100) / 100;
}

/** The most memory a preset accepts (the upper bound guestMemoryError enforces). */
export function maxMemoryMb(preset: VmPreset): number {
  return preset.cpuKind === 'shared' ? 2048 * preset.cpus : 8192 * preset.cpus;
}

export interface MemoryStep {
  memoryMb: number;
  vmSize: string;
  /** ≈ $/month at list prices for that size and memory (volume left out). */
  costPerMonth: number;
}

/**
 * Where memory should go next. Below `recommendedMb`: to it. After an out-of-memory crash at or
 * above it: double, since the same amount would crash again; when the VM size cannot hold that,
 * the smallest bigger size of the same CPU kind that can.
 */
export function nextMemoryStep(vmSize: string, currentMb: number, outOfMemorySeen: boolean, recommendedMb: number): MemoryStep {
  const wanted = currentMb < recommendedMb ? recommendedMb : outOfMemorySeen ? currentMb * 2 : currentMb;
  const preset = VM_PRESETS[vmSize];
  const sizes = Object.entries(VM_PRESETS).filter(([, p]) => !preset || (p.cpuKind === preset.cpuKind && p.cpus >= preset.cpus)).sort(([, a], [, b]) => a.cpus - b.cpus);
  const [size, fits] = sizes.find(([, p]) => !guestMemoryError(p, wanted)) ?? sizes.find(([, p]) => maxMemoryMb(p) >= wanted) ?? [vmSize, preset];
  return { memoryMb: wanted, vmSize: size, costPerMonth: fits ? estimateMonthlyCost(fits, wanted, 0) : Number.NaN };
}
