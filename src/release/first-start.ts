/**
 * Files on the state dir the new gateway imports with its own command before its first start (the
 * row's firstStartMigrations: the new gateway's `doctor --fix` for the old one's credential store), found with
 * one read-only call of the remote agent (as the owner of the state dir). The image's entrypoint runs the command; the
 * upgrade says so in its plan, waits that much longer for the first start, and checks afterwards
 * that the files were imported (the command renames them).
 */
import type { FlyClient } from '../fly/client.js';
import type { GatewayRuntime } from '../gateway/runtime.js';
import { agentCommand, agentInput, agentReply } from '../remote/agent-call.js';

export type FirstStartMigration = NonNullable<GatewayRuntime['firstStartMigrations']>[number];

export interface FoundMigration {
  path: string;
  migration: FirstStartMigration;
}

export async function findFirstStartMigrations(fly: FlyClient, stateDir: string, machineId: string, to: GatewayRuntime): Promise<FoundMigration[]> {
  const migrations = to.firstStartMigrations ?? [];
  if (!migrations.length) return [];
  const out = await fly.ssh(agentCommand('find-files', stateDir, { globs: migrations.map((m) => m.glob) }), { machineId, input: agentInput() });
  return (agentReply<'find-files'>(out)?.found ?? []).flatMap((rel) => {
    const path = `${stateDir}/${rel}`;
    const migration = migrations.find((m) => new RegExp(`^${m.glob.split('*').map(escape).join('[^/]+')}$`).test(rel));
    return migration ? [{ path, migration }] : [];
  });
}

function escape(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** How much longer verification waits when the first start runs migrations: the entrypoint's own limit for each. */
export function migrationBudgetMs(found: FoundMigration[]): number {
  const distinct = new Set(found.map((f) => f.migration));
  return [...distinct].reduce((sum, m) => sum + m.timeoutSeconds * 1000, 0);
}

/** The gateway CLI's words for a migration, as the plan shows them (`<cli> doctor --fix …`). */
export function migrationCommand(to: GatewayRuntime, migration: FirstStartMigration): string {
  return [to.cliName, ...migration.argv].join(' ');
}
