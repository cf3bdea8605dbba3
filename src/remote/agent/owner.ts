/**
 * `fly ssh console` runs as root, but the state dir (the volume) belongs to the gateway user, and
 * anything running as that user (an agent, a plugin, a skill) can plant symlinks or hard links
 * there. A root process that writes, chmods or deletes a path in that dir can be steered at any
 * file on the machine. So the agent becomes the dir's OWNER before it touches anything: whatever is
 * planted there, it can then only do what the gateway user could do anyway.
 *
 * The owner is read with lstat (a symlinked dir counts as its link's owner, never its target's).
 * A dir owned by root is root's own: the agent stays root. A dir that does not exist yet: the agent
 * runs as nobody (65534), which can report "missing" but change nothing.
 */
import * as fs from 'node:fs';
import { AgentFailure } from './failure.js';
import { AGENT_STATUS } from './protocol.js';

export const NOBODY = 65534;

export interface Identity {
  uid: number;
  gid: number;
}

/** Whom the agent must run as to work in `dir`. */
export function ownerOf(dir: string): Identity {
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  return st ? { uid: st.uid, gid: st.gid } : { uid: NOBODY, gid: NOBODY };
}

/** Drops this process to the owner of `dir` (only when it runs as root). Returns whom it runs as now. */
export function dropToOwner(dir: string): Identity {
  const current = { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
  if (current.uid !== 0) return current;
  const owner = ownerOf(dir);
  if (owner.uid === 0) return current;
  try {
    // groups first, then gid, then uid: once uid is dropped nothing else may change
    process.setgroups!([]);
    process.setgid!(owner.gid);
    process.setuid!(owner.uid);
  } catch (e) {
    throw new AgentFailure(`could not become the owner of ${dir} (uid ${owner.uid}): ${e instanceof Error ? e.message : String(e)}; refusing to work there as root`, AGENT_STATUS.ownerFailed);
  }
  if (process.getuid!() !== owner.uid || process.geteuid!() !== owner.uid) throw new AgentFailure(`still root after dropping to uid ${owner.uid}: refusing to work in ${dir}`, AGENT_STATUS.ownerFailed);
  return owner;
}
