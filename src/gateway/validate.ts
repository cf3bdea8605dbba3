/**
 * A config checked by the gateway's own validator (`openclaw config validate --json`), run on an
 * installed runtime: the authority for runtimes that have one (runtime.configValidator), instead of
 * a hand-copied schema. Runs in a scratch HOME and state dir, so it never touches real state.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProcess } from '../util/process.js';
import type { GatewayRuntime } from './runtime.js';

export interface GatewayValidation {
  valid: boolean;
  problems: { path: string; message: string }[];
  /** Migrations the gateway would apply by itself (e.g. `agents.entries: Moved agents.list …`). */
  warnings: { path: string; message: string }[];
}

/** What `config validate --json` prints on stdout (2026.9.6): `{ valid, path, issues?, warnings? }`. */
export interface ValidateJson {
  valid?: boolean;
  issues?: { path?: string; message?: string }[];
  warnings?: { path?: string; message?: string }[];
  error?: { message?: string };
}

export function parseValidateOutput(stdout: string): ValidateJson | undefined {
  const start = stdout.indexOf('{');
  const end = stdout.lastIndexOf('}');
  if (start < 0 || end < start) return undefined;
  try {
    return JSON.parse(stdout.slice(start, end + 1)) as ValidateJson;
  } catch {
    return undefined;
  }
}

const pathMessage = (i: { path?: string; message?: string }) => ({ path: i.path ?? '<root>', message: i.message ?? 'invalid' });

/**
 * Runs `<node> <entry> config validate --json` with the config path variable pointing at `configFile`.
 * Throws when the validator itself cannot run (no JSON answer); returns its verdict otherwise.
 */
export async function validateWithGateway(runtime: GatewayRuntime, nodePath: string, entry: string, configFile: string): Promise<GatewayValidation> {
  if (runtime.configValidator.kind !== 'gateway') throw new Error(`${runtime.id} has no validator command`);
  const scratch = await mkdtemp(join(tmpdir(), 'clawdfly-validate-'));
  try {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      LANG: 'C.UTF-8',
      HOME: join(scratch, 'home'),
      TMPDIR: scratch,
      NO_COLOR: '1',
      [runtime.env.stateDir]: join(scratch, 'state'),
      [runtime.env.configPath]: configFile,
      [runtime.env.disableBonjour]: '1',
    };
    const r = await runProcess(nodePath, [entry, ...runtime.configValidator.args], { env, timeoutMs: 120_000 });
    const json = parseValidateOutput(r.stdout);
    if (!json || typeof json.valid !== 'boolean') {
      const tail = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean).slice(-5).join(' | ');
      throw new Error(`${runtime.cliName} ${runtime.configValidator.args.join(' ')} gave no verdict (exit ${r.code}): ${tail}`);
    }
    return { valid: json.valid, problems: (json.issues ?? []).map(pathMessage), warnings: (json.warnings ?? []).map(pathMessage) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
