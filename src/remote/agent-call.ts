/**
 * The laptop's side of the remote agent (src/remote/agent/, protocol.ts): the `ssh console -C`
 * argv that runs one request, and the stdin that carries the agent itself.
 *
 * The argv is a small fixed bootstrap for `node -e`; the agent (dist/agent/clawdfly-agent.cjs,
 * built by scripts/build.mjs) travels on stdin, framed by its length, before the request's own
 * payload. Nothing secret or path-like is spliced into any script text: the state dir is one argv
 * word, every other parameter one base64url JSON word.
 */
import { readFileSync } from 'node:fs';
import { AGENT_BUNDLE, assetPath } from '../util/assets.js';
import { FRAME_DIGITS, type AgentOp, type AgentParams, type AgentResponses, type ProbeWord } from './agent/protocol.js';

export { AGENT_BUNDLE };

/**
 * Reads the frame from fd 0 (blocking reads; EAGAIN on a non-blocking pipe is waited out), runs
 * the agent as a CommonJS module and hands it the argv. No `/` in it: flyctl's test double rewrites
 * path-like words, and this one must reach node as written.
 */
const BOOTSTRAP = [
  'const f=require("fs");',
  'const z=new Int32Array(new SharedArrayBuffer(4));',
  'const r=(n)=>{const b=Buffer.alloc(n);let o=0;while(o<n){let k;try{k=f.readSync(0,b,o,n-o,null)}catch(e){if(e.code==="EAGAIN"){Atomics.wait(z,0,0,5);continue}throw e}',
  'if(!k){process.stderr.write("clawdfly agent: stdin ended before the agent arrived\\n");process.exit(9)}o+=k}return b};',
  `const n=Number(r(${FRAME_DIGITS}).toString("ascii"));`,
  'const m={exports:{}};new Function("module","exports","require",r(n).toString("utf8"))(m,m.exports,require);',
  'm.exports.main(process.argv.slice(1));',
].join('');

let bundle: Buffer | undefined;

/** The agent's code as built (throws with the fix when dist/ has no agent). */
export function agentScript(): Buffer {
  if (bundle) return bundle;
  const file = assetPath(...AGENT_BUNDLE);
  try {
    bundle = readFileSync(file);
  } catch {
    throw new Error(`the remote agent ${file} is missing: run npm run build`);
  }
  return bundle;
}

/** The start of stdin for every agent call: the frame with the agent in it. */
export function agentFrame(): Buffer {
  const script = agentScript();
  return Buffer.concat([Buffer.from(String(script.length).padStart(FRAME_DIGITS, '0'), 'ascii'), script]);
}

/** stdin of a call: the frame, then the request's payload (if any). */
export function agentInput(payload?: string | Buffer): Buffer {
  return payload === undefined ? agentFrame() : Buffer.concat([agentFrame(), typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload]);
}

/** The argv for FlyClient.ssh / sshTransfer that runs `op` in `stateDir` (as the dir's owner: the agent drops to it). */
/**
 * `words`: absolute machine paths a request looks at outside the state dir (doctor-probe's
 * `c:/data/openclaw.json`…), plain argv words as the state dir is, never inside the params.
 */
export function agentCommand<K extends AgentOp>(op: K, stateDir: string, params: AgentParams[K], words: ProbeWord[] = []): string[] {
  return ['node', '-e', BOOTSTRAP, op, stateDir, Buffer.from(JSON.stringify(params), 'utf8').toString('base64url'), ...words];
}

/** The agent's JSON answer in a call's stdout (its last JSON line), or undefined when there is none. */
export function agentReply<K extends AgentOp>(stdout: string): AgentResponses[K] | undefined {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) return undefined;
  try {
    return JSON.parse(line) as AgentResponses[K];
  } catch {
    return undefined;
  }
}
