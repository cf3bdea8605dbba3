/**
 * Files on the state dir the new gateway would refuse to start with (the row's startBlockers), found with
 * one read-only ssh call as the owner of the state dir. Refused before anything changes: a new
 * gateway that dies after its listening line would only be rolled back.
 */
import { ClawdflyError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import { quoteWord } from '../fly/quote.js';
import type { GatewayRuntime } from '../gateway/runtime.js';
import { asDirOwner } from '../remote/as-owner.js';

/**
 * `ls -1d` names what the globs ($2…, unquoted so they expand) match under "$1/"; an unmatched glob
 * stays literal and ls's complaint goes to /dev/null. Only read commands, so it counts as a read.
 */
function findScript(globs: number): string {
  return `ls -1d -- ${Array.from({ length: globs }, (_, i) => `"$1/"$${i + 2}`).join(' ')} 2>/dev/null || true`;
}

export async function findStartBlockers(fly: FlyClient, stateDir: string, machineId: string, to: GatewayRuntime): Promise<{ path: string; what: string; why: string }[]> {
  const blockers = to.startBlockers ?? [];
  if (!blockers.length) return [];
  const out = await fly.ssh(asDirOwner(stateDir, findScript(blockers.length), 'sh', [stateDir, ...blockers.map((b) => b.glob)]), { machineId });
  const found = out.split('\n').map((l) => l.trim()).filter(Boolean);
  return found.flatMap((path) => {
    const rel = path.startsWith(`${stateDir}/`) ? path.slice(stateDir.length + 1) : path;
    const blocker = blockers.find((b) => new RegExp(`^${b.glob.split('*').map(escape).join('[^/]+')}$`).test(rel));
    return blocker ? [{ path, what: blocker.what, why: blocker.why }] : [];
  });
}

function escape(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

export function blockedError(found: { path: string; what: string; why: string }[], to: GatewayRuntime): ClawdflyError {
  const [first] = found;
  return new ClawdflyError(`${first!.path} is on the volume: ${first!.what}. ${first!.why}, and clawdfly cannot run it there yet; nothing was changed`, {
    hint: `with your provider keys in Fly secrets (clawdfly init puts them there), set the file aside and upgrade: clawdfly ssh -- mv ${quoteWord(first!.path)} ${quoteWord(`${first!.path}.set-aside`)}  then clawdfly upgrade --to ${to.id}`,
    code: 'legacy-state-blocks-start',
    exitCode: 2,
    evidence: found.map((f) => f.path),
  });
}
