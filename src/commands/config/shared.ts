/** What the config subcommands share: the project, the machine, and a readable semantic diff. */
import { isAbsolute, relative } from 'node:path';
import JSON5 from 'json5';
import { ClawdflyError, UsageError } from '../../errors.js';
import { FlyClient } from '../../fly/client.js';
import type { Machine } from '../../fly/json.js';
import { loadProject, type Project } from '../../project/project.js';
import { withoutGatewayAdditions } from '../../remote/config-transfer.js';
import { unifiedDiff } from '../../util/diff.js';
import { out, untrusted } from '../../ui/output.js';

export interface RemoteContext {
  project: Project;
  fly: FlyClient;
  machine: Machine;
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export async function openProject(opts: { dir?: string; app?: string }): Promise<Project> {
  return loadProject(str(opts.dir), { app: str(opts.app) });
}

/** The local file's text, or a refusal that says how to get one. */
export function localConfigText(project: Project): string {
  if (project.configText === undefined) {
    throw new UsageError(`no ${project.runtime.configFileName} in ${project.dir}`, `clawdfly config pull  (or clawdfly init --dir ${project.dir})`, 'no-local-config');
  }
  return project.configText;
}

/** The machine to talk to: --machine, else the app's started machine. */
export async function selectMachine(fly: FlyClient, wanted?: string): Promise<Machine> {
  const machines = await fly.machines();
  if (wanted) {
    const machine = machines.find((m) => m.id === wanted);
    if (!machine) throw new UsageError(`machine ${wanted} is not in app ${fly.app}`, `fly machines list -a ${fly.app}  (then --machine <id>)`, 'no-such-machine');
    if (machine.state !== 'started') {
      throw new ClawdflyError(`machine ${wanted} is ${machine.state}, not started`, { hint: `fly machine start ${wanted} -a ${fly.app}`, code: 'machine-not-started' });
    }
    return machine;
  }
  const started = machines.filter((m) => m.state === 'started');
  if (started.length === 0) {
    const other = machines[0];
    throw new ClawdflyError(
      other ? `no started machine in ${fly.app} (${other.id} is ${other.state})` : `app ${fly.app} has no machines`,
      { hint: other ? `fly machine start ${other.id} -a ${fly.app}  (then run this again)` : 'clawdfly deploy', code: 'no-started-machine' },
    );
  }
  if (started.length > 1) out.warn(`${started.length} started machines in ${fly.app}; using ${started[0]!.id} (choose one with --machine)`);
  return started[0]!;
}

export async function connect(opts: { dir?: string; app?: string; flyctl?: string; machine?: string }, project?: Project): Promise<RemoteContext> {
  const p = project ?? (await openProject(opts));
  const fly = new FlyClient({ app: p.app, flyctl: str(opts.flyctl) });
  await fly.ensureVersion();
  const machine = await selectMachine(fly, str(opts.machine));
  return { project: p, fly, machine };
}

export function localLabel(project: Project): string {
  const rel = relative(process.cwd(), project.configPath);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : project.configPath;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

function parseLoose(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return JSON5.parse(text);
  }
}

/**
 * A diff of what would change, without noise: keys sorted, whitespace normalized, and what the
 * gateway adds by itself (meta, materialized defaults) left out. Falls back to a text diff when a
 * side does not parse.
 */
export function semanticDiff(remoteText: string | undefined, localText: string, labels: { from: string; to: string }): string {
  if (remoteText === undefined) return unifiedDiff('', localText, labels);
  try {
    const normalized = withoutGatewayAdditions(parseLoose(localText), parseLoose(remoteText));
    const show = (v: unknown) => JSON.stringify(sortKeys(v), null, 2) + '\n';
    return unifiedDiff(show(normalized.remote), show(normalized.local), labels);
  } catch {
    return unifiedDiff(remoteText, localText, labels);
  }
}

/** Diff lines, each shown inertly: the machine's side is whatever the file there holds (a text diff when it does not parse). */
export function printDiff(diff: string): void {
  for (const line of diff.replace(/\n$/, '').split('\n')) out.line(untrusted(line));
}
