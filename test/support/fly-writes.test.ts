import { describe, expect, it } from 'vitest';
import { mayWrite } from './fly-writes.mjs';
import { remoteCommand } from '../../src/fly/quote.js';
import { agentCommand } from '../../src/remote/agent-call.js';

const inv = (...argv: string[]) => ({ argv });
const ssh = (command: string) => inv('ssh', 'console', '-a', 'x', '-q', '-C', command);

describe('mayWrite: an allow-list of reads', () => {
  it('counts the reads a deploy re-run makes as reads', () => {
    expect(mayWrite(inv('status', '--json', '-a', 'x'))).toBe(false);
    expect(mayWrite(inv('machines', 'list', '--json', '-a', 'x'))).toBe(false);
    expect(mayWrite(ssh(`sh -c 'if [ -f "$1" ]; then exec cat -- "$1"; elif [ -e "$1" ]; then echo "$1 is not a regular file" >&2; exit 2; else exit 3; fi' sh /data/clawdbot.json`))).toBe(false);
  });

  it("tells the remote agent's reads from its writes by the request", () => {
    expect(mayWrite(ssh(remoteCommand(agentCommand('config-read', '/data', { name: 'openclaw.json' }))))).toBe(false);
    expect(mayWrite(ssh(remoteCommand(agentCommand('find-files', '/data', { globs: ['agents/*'] }))))).toBe(false);
    expect(mayWrite(ssh(remoteCommand(agentCommand('config-push', '/data', { name: 'openclaw.json', sha256: 'x', keep: 5 }))))).toBe(true);
    expect(mayWrite(ssh(remoteCommand(agentCommand('backup', '/data', {}))))).toBe(true);
  });

  it('counts a verb nobody listed, and any remote command not known to read, as a write', () => {
    // A deny-list of known writing verbs would have let each of these through.
    expect(mayWrite(inv('certs', 'add', 'example.com', '-a', 'x'))).toBe(true);
    expect(mayWrite(inv('scale', 'count', '2', '-a', 'x'))).toBe(true);
    expect(mayWrite(ssh(`sh -c 'cp -- "$1" "$1.bak"' sh /data/clawdbot.json`))).toBe(true);
    expect(mayWrite(ssh(`sh -c 'echo hi > "$1"' sh /data/x`))).toBe(true);
    expect(mayWrite(inv('ssh', 'console', '-a', 'x'))).toBe(true);
  });
});
