/**
 * A private app's Control UI through `fly proxy`: start the tunnel to <app>.flycast, wait until
 * the local port really answers HTTP, then hand over; the tunnel lives until Ctrl-C (or flyctl
 * ends) and is stopped with us, never left behind.
 */
import type { FlyClient } from '../fly/client.js';
import { ClawdflyError } from '../errors.js';
import { FLYCAST_SERVICE_PORT } from '../project/network.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** flyctl's one readiness line (flyctl-day2.md §2): `Proxying localhost:<L> to remote [<host>]:<R>`. */
const READY_LINE = /^Proxying localhost:(\d+) to remote \[(.+)\]:(\d+)/;

export interface TunnelHandle {
  /** The local port that answers (flyctl's line says which; it may differ when 0 was asked for). */
  localPort: number;
  url: string;
  argv: string[];
  /** Resolves with flyctl's exit code when the tunnel ends. */
  ended: Promise<number>;
}

async function answers(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/`, { redirect: 'manual', signal: AbortSignal.timeout(5_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the tunnel and resolves once http://127.0.0.1:<port>/ answers (any HTTP status: the
 * gateway behind it may still be waking). Rejects with flyctl's own error when it ends first.
 */
export function openTunnel(fly: FlyClient, localPort: number, opts: { onWait?: (text: string) => void } = {}): Promise<TunnelHandle> {
  const argv = fly.proxyArgv(localPort, FLYCAST_SERVICE_PORT);
  const errors: string[] = [];
  let reportedPort: number | undefined;
  let exited: number | undefined;
  const ended = fly.proxy(localPort, FLYCAST_SERVICE_PORT, (line, stream) => {
    const ready = READY_LINE.exec(line);
    if (ready) reportedPort = Number(ready[1]);
    else if (stream === 'stderr') errors.push(line);
  }).then((code) => (exited = code));

  return (async () => {
    const started = Date.now();
    for (;;) {
      if (exited !== undefined) {
        throw new ClawdflyError(`fly proxy ended before the tunnel answered (exit ${exited})${errors.length ? `: ${errors.at(-1)}` : ''}`, {
          hint: /address already in use/.test(errors.join('\n')) ? `another program uses port ${localPort}: clawdfly open --port <free port>` : 'clawdfly doctor  (is the machine started? is the app private as fly.toml says?)',
          code: 'tunnel-failed',
          evidence: errors.slice(-5),
        });
      }
      // Only after flyctl's readiness line: before it, whatever else listens on that port would answer.
      const port = reportedPort;
      if (port !== undefined && (await answers(port))) {
        return { localPort: port, url: `http://127.0.0.1:${port}/`, argv, ended };
      }
      opts.onWait?.(`waiting for the tunnel to ${fly.app}.flycast (${Math.round((Date.now() - started) / 1000)} s)`);
      await sleep(250);
    }
  })();
}
