/**
 * `fly ssh console` runs as root, but the state dir (the volume) belongs to the gateway user, and
 * anything running as that user (an agent, a plugin, a skill) can plant symlinks or hard links
 * there. A root script that writes, chmods, chowns or deletes a path in that dir can be steered
 * at any file on the machine. So every script that touches the state dir runs as the dir's OWNER:
 * whatever is planted there, it can then only do what the gateway user could do anyway.
 *
 * The wrapper looks up the owner of `dir` on the machine (`stat` without -L: a symlinked dir
 * counts as its link's owner, never as its target's), and `setpriv`s to that uid/gid (util-linux,
 * in every Debian image) before running the script. A dir owned by root is root's own: the script
 * runs as root. A dir that does not exist yet: the script runs as nobody, which can report
 * "missing" but change nothing.
 */
import { shScript } from '../fly/quote.js';

/** Remote exit status of the wrapper when it could not drop privileges (setpriv missing, stat failed). */
export const AS_OWNER_FAILED = 125;

const WRAPPER = [
  'd="$1"; s="$2"; shift 2',
  'if [ "$(id -u)" = 0 ]; then',
  '  if [ -e "$d" ] || [ -L "$d" ]; then o=$(stat -c %u -- "$d") && g=$(stat -c %g -- "$d") || exit ' + AS_OWNER_FAILED,
  '  else o=65534; g=65534; fi',
  '  if [ "$o" != 0 ]; then',
  '    command -v setpriv >/dev/null 2>&1 || { echo "setpriv is missing on the machine: refusing to work in $d as root" >&2; exit ' + AS_OWNER_FAILED + '; }',
  '    exec setpriv --reuid="$o" --regid="$g" --clear-groups -- sh -c "$s" "$@"',
  '  fi',
  'fi',
  // already the owner: run it in this shell ($1… = the script's args)
  'shift',
  'eval "$s"',
].join('\n');

/**
 * The argv for `FlyClient.ssh` that runs `script` (with `$0` = name and `$1…` = args) as the owner
 * of `dir` on the machine.
 */
export function asDirOwner(dir: string, script: string, name: string, args: string[]): string[] {
  return [...shScript(WRAPPER), 'clawdfly', dir, script, name, ...args];
}
