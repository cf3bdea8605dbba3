/**
 * Boot measurements of the real image (used by bench/boot.mjs and the image tests): time from the
 * container's start to the gateway's `listening` line, the container cgroup's memory peak, and how
 * many files the gateway had to transpile (jiti cache misses), for a first boot and a restart.
 *
 * Two setups, same image, same gateway, same config, same VM memory:
 * - ours: fly.toml as generated (entrypoint; TMPDIR=/data/tmp on the volume; the jiti cache
 *   prewarmed at build time and seeded onto the volume at first boot);
 * - seed: the seed's setup (no entrypoint, `node dist/index.js gateway …` from the package dir,
 *   TMPDIR unset so jiti writes to the container's /tmp, which a restart throws away).
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flyMachineOptions } from './project.js';
import { runMachine, type Machine, type MachineOptions } from '../support/podman.js';
import { sleep } from '../support/util.js';
import { RUNTIMES } from '../../src/gateway/runtime.js';

const OPENCLAW = RUNTIMES['openclaw@2026.9.6']!;

/** ours/seed: the clawdbot image two ways; openclaw: the generated OpenClaw image (ours, its row). */
export type Setup = 'ours' | 'seed' | 'openclaw';

export interface BootSample {
  setup: Setup;
  boot: 'first' | 'restart';
  /** Container start (podman's StartedAt) → the gateway's `[gateway] listening on` line (its own timestamp). */
  seconds: number;
  /** Peak of the container's memory cgroup during the boot (read `settleMs` after listening). */
  peakMb: number;
  /** The gateway process's own RSS high-water mark (VmHWM of the supervisor's child, or of PID 1). */
  rssPeakMb?: number;
  /** Files jiti wrote into its cache during this boot (0 = every extension came from the cache). */
  transpiled: number;
  listeningLine: string;
  /** The table's name for the row (default: from setup). */
  label?: string;
}

const LISTENING = /\[gateway\] listening on ws:\/\/0\.0\.0\.0:(\d+)/;
// clawdbot stamps `…Z`, openclaw `…+00:00`
const ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))\s/;

/** Where jiti keeps its cache inside the container for a setup. */
function jitiDir(setup: Setup): string {
  // openclaw: Node's compile cache stays in the image (entrypoint.sh); it is written at exit only
  if (setup === 'openclaw') return '/app/.jiti-cache';
  return setup === 'ours' ? '/data/tmp/jiti' : '/tmp/jiti';
}

async function countFiles(m: Machine, dir: string): Promise<number> {
  const r = await m.exec(['sh', '-c', `if [ -d ${dir} ]; then find ${dir} -type f | wc -l; else echo 0; fi`]);
  if (r.code !== 0) throw new Error(`counting files in ${dir} failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** How many files the image's prewarmed transpile cache holds (read in a running container of it). */
export async function prewarmedFiles(m: Machine): Promise<number> {
  return countFiles(m, '/app/.jiti-cache');
}

/** ms since the epoch from an ISO-ish time podman prints (RFC 3339 with up to 9 fraction digits). */
export function parseTime(text: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?/.exec(text.trim());
  if (!m) throw new Error(`cannot parse time ${text}`);
  const ms = (m[3] ?? '0').padEnd(3, '0').slice(0, 3);
  const zone = !m[4] || m[4] === 'Z' ? 'Z' : m[4].length === 5 ? `${m[4].slice(0, 3)}:${m[4].slice(3)}` : m[4];
  return Date.parse(`${m[1]}T${m[2]}.${ms}${zone}`);
}

/**
 * Waits for the listening line of the current container and measures that boot.
 * `transpiledBefore` = files in the jiti cache before the gateway started.
 */
export async function measureBoot(
  m: Machine,
  setup: Setup,
  boot: 'first' | 'restart',
  opts: { timeoutMs?: number; settleMs?: number; cacheBefore: number | (() => Promise<number>) },
): Promise<BootSample> {
  const line = await m.waitForLog(setup === 'openclaw' ? OPENCLAW.listeningLine : LISTENING, opts.timeoutMs ?? 6 * 60_000);
  const st = await m.inspect();
  const started = parseTime(st.startedAt);
  const stamp = ISO.exec(line)?.[1];
  if (!stamp) throw new Error(`the listening line has no timestamp (NO_COLOR unset?): ${line}`);
  const seconds = (Date.parse(stamp) - started) / 1000;
  await sleep(opts.settleMs ?? 10_000);
  const peakMb = await m.peakMemoryMb();
  // the gateway is the child of PID 1 (the entrypoint's supervisor); an image without one runs it as PID 1
  const children = (await m.exec(['sh', '-c', 'cat /proc/1/task/*/children'])).stdout.trim().split(/\s+/).filter(Boolean);
  const status = await m.exec(['cat', `/proc/${children.length === 1 ? children[0] : 1}/status`]);
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status.stdout)?.[1];
  const after = await countFiles(m, jitiDir(setup));
  return {
    setup,
    boot,
    seconds: Math.round(seconds * 10) / 10,
    peakMb: Math.round(peakMb),
    rssPeakMb: hwm ? Math.round(Number(hwm) / 1024) : undefined,
    transpiled: after - (typeof opts.cacheBefore === 'number' ? opts.cacheBefore : await opts.cacheBefore()),
    listeningLine: line.trim(),
  };
}

/** runMachine options for a setup, from the project's fly.toml. */
export function setupOptions(setup: Setup, projectDir: string, image: string, volumeDir: string, name: string): MachineOptions {
  const base = flyMachineOptions(projectDir, { image, volumeDir, name });
  if (setup === 'ours' || setup === 'openclaw') return base;
  // The seed: its fly.toml had no TMPDIR, the image no ENTRYPOINT and WORKDIR = the package dir.
  const argv = base.command!;
  const env = { ...base.env };
  delete env['TMPDIR'];
  env['NODE_OPTIONS'] = '--max-old-space-size=1536';
  return {
    ...base,
    env,
    command: argv.slice(1),
    extraArgs: ['--entrypoint', argv[0]!, '--workdir', '/app/node_modules/clawdbot'],
  };
}

/**
 * First boot on an empty volume, then a Fly-style restart (fresh rootfs, same volume). The seed's
 * volume gets the same clawdbot.json the entrypoint seeds for ours (the walkthrough's `tee` step).
 */
export async function measureSetup(setup: Setup, projectDir: string, image: string, log: (s: string) => void = () => undefined): Promise<BootSample[]> {
  const volume = mkdtempSync(join(tmpdir(), `clawdfly-boot-${setup}-`));
  let m: Machine | undefined;
  try {
    if (setup === 'seed') cpSync(join(projectDir, 'clawdbot.json'), join(volume, 'clawdbot.json'));
    m = await runMachine(setupOptions(setup, projectDir, image, volume, `boot-${setup}-${process.pid}`));
    // ours: the cache the entrypoint seeds from the image counts as "before" (it was built at image build time)
    const first = await measureBoot(m, setup, 'first', { cacheBefore: setup !== 'seed' ? () => prewarmedFiles(m!) : 0 });
    log(`${setup} first boot: ${first.seconds} s, peak ${first.peakMb} MB, ${first.transpiled} files transpiled`);
    const before = setup === 'seed' ? 0 : countHostFiles(join(volume, 'tmp', 'jiti'));
    await m.restart();
    const restart = await measureBoot(m, setup, 'restart', { cacheBefore: setup === 'openclaw' ? () => prewarmedFiles(m!) : before });
    log(`${setup} restart: ${restart.seconds} s, peak ${restart.peakMb} MB, ${restart.transpiled} files transpiled`);
    return [first, restart];
  } finally {
    await m?.remove();
    rmSync(volume, { recursive: true, force: true });
  }
}

export function countHostFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++;
  return n;
}

export function formatTable(samples: BootSample[]): string {
  const rows = [
    ['setup', 'boot', 'to listening', 'cgroup peak', 'gateway RSS peak', 'transpiled files'],
    ...samples.map((s) => [
      s.label ?? (s.setup === 'ours' ? 'ours (generated image)' : s.setup === 'openclaw' ? 'openclaw (generated image)' : 'seed setup'),
      s.boot === 'first' ? 'first boot' : 'restart',
      `${s.seconds.toFixed(1)} s`,
      `${s.peakMb} MB`,
      s.rssPeakMb !== undefined ? `${s.rssPeakMb} MB` : '?',
      String(s.transpiled),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [fmt(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(fmt)].join('\n');
}
