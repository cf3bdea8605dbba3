/**
 * Which recorded flyctl calls may have changed remote state. An allow-list of reads, so a verb
 * nobody listed (a new writing command, or a read we forgot) counts as a write and fails a
 * "zero mutations" assertion instead of slipping through. Shared by test/deploy and bench/deploy.
 */
import { shlexSplit } from '../fakefly/lib/shlex.mjs';

/** flyctl verbs (first two words, aliases spelled out) that only read. */
const READ_VERBS = new Set([
  'version', 'auth whoami', 'status', 'apps list', 'volumes list', 'volume list', 'secrets list',
  'machines list', 'machine list', 'machines status', 'machine status', 'logs', 'config show', 'ips list', 'orgs list',
]);

/** Commands a remote shell script may run and still only read. */
const READ_COMMANDS = new Set(['[', 'test', 'cat', 'echo', 'printf', 'exit', 'true', 'false', 'ls', 'stat', 'sha256sum', 'head', 'tail', 'wc']);
/** Requests of clawdfly's remote agent (src/remote/agent/protocol.ts) that only read. */
const AGENT_READS = new Set(['config-read', 'find-files', 'find-swap']);
/** Shell words that start a compound command; the command proper follows them. */
const KEYWORDS = new Set(['if', 'then', 'elif', 'else', 'fi', 'do', 'done', 'while', 'exec', '!', '{', '}']);

/** "volumes create", "secrets import", … of an invocation: its words before the first flag. */
export function verbOf(inv) {
  const words = [];
  for (const a of inv.argv) {
    if (a.startsWith('-') || words.length === 2) break;
    words.push(a);
  }
  return words.join(' ');
}

/** A redirect writes unless it goes to stderr/stdout or /dev/null. */
function writesByRedirect(segment) {
  return [...segment.matchAll(/\d*>>?\s*(&\d|\S+)/g)].some((m) => !/^(&\d|\/dev\/null)$/.test(m[1]));
}

/** True only for a script made of read commands (each segment between ; && || | and newlines). */
function scriptOnlyReads(script) {
  if (writesByRedirect(script)) return false;
  for (const segment of script.split(/;|&&|\|\||\||\n/)) {
    const words = segment.trim().split(/\s+/).filter(Boolean);
    while (words.length && KEYWORDS.has(words[0])) words.shift();
    if (words.length && !READ_COMMANDS.has(words[0])) return false;
  }
  return true;
}

/** The remote argv of `ssh console … -C <command>` only reads. */
function sshOnlyReads(inv) {
  const i = inv.argv.indexOf('-C');
  if (i < 0) return false; // an interactive shell may do anything
  let words;
  try {
    words = shlexSplit(inv.argv[i + 1] ?? '');
  } catch {
    return false;
  }
  // src/remote/agent-call.ts: `node -e <bootstrap> <request> <dir> <params>`; the request decides
  if (words[0] === 'node' && words[1] === '-e' && (words[2] ?? '').includes('clawdfly agent')) return AGENT_READS.has(words[3] ?? '');
  if (words[0] === 'sh' && words[1] === '-c') {
    // src/remote/as-owner.ts: `sh -c WRAPPER clawdfly <dir> <script> …` drops to the dir's owner and
    // runs <script>; the wrapper itself only reads (stat, id), so the script decides.
    if (words[3] === 'clawdfly' && (words[2] ?? '').includes('setpriv')) return scriptOnlyReads(words[5] ?? '');
    return scriptOnlyReads(words[2] ?? '');
  }
  return scriptOnlyReads(words.join(' '));
}

/** Whether an invocation may have changed remote state (anything not known to be a read). */
export function mayWrite(inv) {
  const verb = verbOf(inv);
  if (verb === 'ssh console') return !sshOnlyReads(inv);
  return !READ_VERBS.has(verb);
}
