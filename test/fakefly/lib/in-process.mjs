// fakefly in the test's own process: the same execute() as bin/flyctl (state, failure injection,
// invocation records), with stdin given as bytes and stdout/stderr collected per call. For
// src/fly/run.ts's transport (useFlyTransport): a test's flyctl calls then cost no process start.
// Calls that need a real process stay on bin/flyctl: `ssh console` (real coreutils, stdin
// streamed), `logs` (may poll forever, ended by a signal), `proxy` (listens until a signal), and
// every call of the podman backend.
import { execute } from '../fakefly.mjs';
import { sinks } from './output.mjs';

const NEEDS_A_PROCESS = new Set(['ssh', 'logs', 'proxy']);

/** Can this call run in-process? */
export function runsInProcess(argv, env) {
  const first = argv.find((a) => !a.startsWith('-'));
  return env.FAKEFLY_BACKEND !== 'podman' && !NEEDS_A_PROCESS.has(first);
}

function collector() {
  const chunks = [];
  return { write(s) { chunks.push(Buffer.isBuffer(s) ? s : Buffer.from(String(s))); return true; }, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** One flyctl call in this process: { stdout, stderr, exitCode }. */
export async function runFakeflyInProcess(argv, { env, cwd, input = '' }) {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input);
  const info = { read: false, bytes: 0 };
  const stdin = {
    info,
    // what clawdfly gives flyctl: always a pipe, closed after `input`
    isTTY: false,
    isCharDevice: () => false,
    count(n) { info.read = true; info.bytes += n; },
    async readAll() { info.read = true; info.bytes += bytes.length; return bytes; },
    stream() { throw new Error('fakefly in-process: streamed stdin needs bin/flyctl'); },
  };
  const stdout = collector();
  const stderr = collector();
  const exitCode = await sinks.run({ stdout, stderr }, () => execute(argv, { env, cwd, stdin }));
  return { stdout: stdout.text(), stderr: stderr.text(), exitCode };
}
