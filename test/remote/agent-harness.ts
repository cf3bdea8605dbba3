/**
 * Runs the built remote agent (dist/agent/clawdfly-agent.cjs) exactly as a `fly ssh` call does:
 * the argv of agentCommand (`node -e <bootstrap> <op> <dir> <params>`) and the stdin of agentInput
 * (the framed agent, then the payload), here on this computer, as root or as another uid.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentCommand, agentInput } from '../../src/remote/agent-call.js';
import type { AgentOp, AgentParams, ProbeWord } from '../../src/remote/agent/protocol.js';

export const OTHER_UID = 1000;

export interface AgentRun {
  status: number | null;
  stdout: Buffer;
  stderr: string;
  json: () => any;
}

export function runAgent<K extends AgentOp>(op: K, dir: string, params: AgentParams[K], opts: { payload?: Buffer; uid?: number; gid?: number; words?: ProbeWord[]; env?: Record<string, string> } = {}): AgentRun {
  const [node, ...args] = agentCommand(op, dir, params, opts.words);
  expectNode(node);
  const env = opts.env ? { ...process.env, ...opts.env } : undefined;
  const r = spawnSync(process.execPath, args, { input: agentInput(opts.payload), cwd: '/', uid: opts.uid, gid: opts.gid, env, maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8'), json: () => JSON.parse(r.stdout.toString('utf8').trim().split('\n').pop()!) };
}

function expectNode(word: string | undefined): void {
  if (word !== 'node') throw new Error(`the agent's argv starts with ${word}, not node`);
}

/** A temp folder every uid may enter (the parent of the state dirs), removed by the caller. */
export function openTemp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** A state dir owned by `uid` (0700, as /data on Fly is the gateway user's). */
export function stateDir(parent: string, uid: number, name = 'data'): string {
  const dir = join(parent, name);
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, uid, uid);
  return dir;
}

/** A file written by `uid` (parents made and owned by it as well). */
export function fileAs(root: string, rel: string, content: string | Buffer, uid: number, mode = 0o644): void {
  const abs = join(root, rel);
  const parts = rel.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const d = join(root, ...parts.slice(0, i));
    mkdirSync(d, { recursive: true, mode: 0o755 });
    chownSync(d, uid, uid);
  }
  writeFileSync(abs, content, { mode });
  chmodSync(abs, mode);
  chownSync(abs, uid, uid);
}
