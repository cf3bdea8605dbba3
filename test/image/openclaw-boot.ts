/**
 * The OpenClaw boot bench (bench/boot.mjs → boot-bench.ts): the same runtime (the openclaw row's
 * pinned bundle, the same config and keys) booted side by side in one run
 * - on the host (Node 24 from npm, `node dist/index.js gateway …` as fly.toml runs it, the Node compile
 *   cache on as the image's entrypoint turns it on): cold (empty cache, new state dir), then warm
 *   (same cache and state dir, after a clean stop);
 * - in the generated image (podman, fly.toml's memory): the first boot on an empty volume, a Fly-style
 *   restart (SIGTERM, fresh rootfs, same volume), and a restart after a SIGKILL.
 * Each: seconds from the process (host) or the container (image) start to the gateway's own timestamp
 * on its listening line, and the gateway's own timer printed in that line (`…; 3.8s)`).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flyMachineOptions, projectSecretValues } from './project.js';
import { parseTime } from './boot.js';
import { runMachine, freePort } from '../support/podman.js';
import { defaultRuntimeDir, ensureNode24, ensureRuntime } from '../support/real-gateway.js';
import { RUNTIMES } from '../../src/gateway/runtime.js';

export const OPENCLAW_ID = 'openclaw@2026.9.6';
const OPENCLAW = RUNTIMES[OPENCLAW_ID]!;
const STAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))\s/m;

export interface OpenclawBoot {
  where: 'host' | 'image';
  boot: 'cold' | 'warm' | 'first' | 'restart' | 'after kill';
  /** Process or container start → the listening line's own timestamp. */
  seconds: number;
  /** The gateway's own timer in that line (undefined when it prints none). */
  gatewaySeconds?: number;
  line: string;
}

/** Seconds from `startedMs` to the listening line's timestamp, and the timer the line carries. */
export function readListening(line: string, startedMs: number): { seconds: number; gatewaySeconds?: number } {
  const stamp = STAMP.exec(line)?.[1];
  if (!stamp) throw new Error(`the listening line has no timestamp (NO_COLOR unset?): ${line}`);
  const timer = /;\s*(\d+(?:\.\d+)?)s\)\s*$/.exec(line.trim())?.[1];
  return { seconds: Math.round((Date.parse(stamp) - startedMs) / 100) / 10, gatewaySeconds: timer === undefined ? undefined : Number(timer) };
}

/** The gateway on the host, twice on the same state dir and compile cache: cold, then warm. */
export async function hostBoots(projectDir: string, log: (s: string) => void): Promise<OpenclawBoot[]> {
  const [node, entry] = await Promise.all([ensureNode24(), ensureRuntime(await defaultRuntimeDir(OPENCLAW_ID))]);
  const root = mkdtempSync(join(tmpdir(), 'clawdfly-oc-host-'));
  const state = join(root, 'state');
  const tmp = join(root, 'tmp');
  const home = join(root, 'home');
  for (const d of [state, tmp, home]) mkdirSync(d, { recursive: true });
  copyFileSync(join(projectDir, OPENCLAW.configFileName), join(state, OPENCLAW.configFileName));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    HOME: home,
    TMPDIR: tmp,
    NODE_ENV: 'production',
    NO_COLOR: '1',
    [OPENCLAW.env.stateDir]: state,
    [OPENCLAW.env.disableBonjour]: '1',
    ...(OPENCLAW.env.noAutoUpdate ? { [OPENCLAW.env.noAutoUpdate]: '1' } : {}),
    [OPENCLAW.compileCacheEnv!]: join(tmp, OPENCLAW.compileCacheSubdir),
    ...projectSecretValues(projectDir),
  };
  const port = await freePort();
  const samples: OpenclawBoot[] = [];
  try {
    for (const boot of ['cold', 'warm'] as const) {
      const startedMs = Date.now();
      const child = spawn(node, [entry, 'gateway', '--allow-unconfigured', '--port', String(port), '--bind', 'loopback'], { cwd: join(entry, '..', '..'), env, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      let out = '';
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`host ${boot} boot: no listening line in 5 min\n${out.slice(-3000)}`)), 5 * 60_000);
        const onData = (chunk: Buffer) => {
          out += chunk.toString('utf8');
          const hit = out.split('\n').find((l) => OPENCLAW.listeningLine.test(l));
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          }
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', onData);
        child.once('exit', (code) => reject(new Error(`host ${boot} boot: exited ${code}\n${out.slice(-3000)}`)));
      });
      const sample = { where: 'host' as const, boot, ...readListening(line, startedMs), line: line.trim() };
      samples.push(sample);
      log(`host ${boot}: ${sample.seconds} s (gateway's timer ${sample.gatewaySeconds ?? '?'} s)`);
      // a clean stop: the gateway writes its compile cache at exit, the warm boot reads it
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(forced);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return samples;
}

/** The generated image like Fly runs it: first boot, restart, restart after a SIGKILL (one volume). */
export async function imageBoots(projectDir: string, image: string, log: (s: string) => void): Promise<OpenclawBoot[]> {
  const volume = mkdtempSync(join(tmpdir(), 'clawdfly-oc-boot-'));
  const m = await runMachine(flyMachineOptions(projectDir, { image, volumeDir: volume, name: `oc-bench-${process.pid}` }));
  const samples: OpenclawBoot[] = [];
  try {
    for (const boot of ['first', 'restart', 'after kill'] as const) {
      if (boot === 'restart') await m.restart();
      if (boot === 'after kill') {
        await m.kill('SIGKILL');
        await m.restart();
      }
      const line = await m.waitForLog(OPENCLAW.listeningLine, 6 * 60_000);
      const startedMs = parseTime((await m.inspect()).startedAt);
      const sample = { where: 'image' as const, boot, ...readListening(line, startedMs), line: line.trim() };
      samples.push(sample);
      log(`image ${boot}: ${sample.seconds} s (gateway's timer ${sample.gatewaySeconds ?? '?'} s)`);
      // let it finish its start (the owner lease, the lock) before it is stopped or killed
      await m.waitForLog(OPENCLAW.readyLine!, 3 * 60_000).catch(() => undefined);
    }
  } finally {
    await m.remove();
    rmSync(volume, { recursive: true, force: true });
  }
  return samples;
}

/** The table, and the ratios the issue sets: every image boot ≤ 1.3× the warm host boot; first ≤ restart. */
export function openclawReport(samples: OpenclawBoot[]): { text: string; ratios: Record<string, number>; ok: boolean } {
  const warm = samples.find((s) => s.where === 'host' && s.boot === 'warm')!;
  const get = (boot: OpenclawBoot['boot']) => samples.find((s) => s.where === 'image' && s.boot === boot);
  const rows = [['where', 'boot', 'to listening', "gateway's timer", 'before its timer', '/ warm host'], ...samples.map((s) => [
    s.where === 'host' ? 'host (Node 24)' : 'generated image',
    s.boot,
    `${s.seconds.toFixed(1)} s`,
    s.gatewaySeconds === undefined ? '?' : `${s.gatewaySeconds.toFixed(1)} s`,
    s.gatewaySeconds === undefined ? '?' : `${(s.seconds - s.gatewaySeconds).toFixed(1)} s`,
    `${(s.seconds / warm.seconds).toFixed(2)}×`,
  ])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const ratios: Record<string, number> = {};
  for (const s of samples.filter((x) => x.where === 'image')) ratios[`${s.boot} / warm host`] = Math.round((s.seconds / warm.seconds) * 100) / 100;
  const first = get('first');
  const restart = get('restart');
  if (first && restart) ratios['first / restart'] = Math.round((first.seconds / restart.seconds) * 100) / 100;
  const everyBoot = samples.filter((s) => s.where === 'image').every((s) => s.seconds <= 1.3 * warm.seconds);
  const firstOk = !first || !restart || first.seconds <= restart.seconds;
  const lines = [
    fmt(rows[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(fmt),
    `every image boot ≤ 1.3× the warm host boot: ${everyBoot ? 'met' : 'NOT met'} (${Object.entries(ratios).filter(([k]) => k.endsWith('warm host')).map(([k, v]) => `${k} ${v}×`).join(', ')})`,
    `first boot in the image no slower than a restart: ${firstOk ? 'met' : 'NOT met'} (first / restart ${ratios['first / restart'] ?? '?'}×)`,
  ];
  return { text: lines.join('\n'), ratios, ok: everyBoot && firstOk };
}
