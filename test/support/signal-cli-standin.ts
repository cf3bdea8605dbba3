/**
 * A local stand-in for signal-cli's GitHub release (no machine here reaches GitHub): a tarball
 * with the release's layout, `signal-cli-<version>/bin/signal-cli` + `lib/`, served over HTTP on
 * 127.0.0.1 for the Signal image's `SIGNAL_CLI_URL` build argument (the build runs with
 * `--network host`, so the builder reaches the host's loopback).
 *
 * Its `bin/signal-cli` is a stub script that behaves enough like signal-cli for the gateway and
 * for `clawdfly channels login signal`:
 * - it refuses to run without Java (the image must have installed it) or without `--config`;
 * - `link` prints a `sgnl://linkdevice?…` link and writes `<config>/data/accounts.json`;
 * - `daemon --http host:port` serves `/api/v1/check`, `/api/v1/events` (SSE) and `/api/v1/rpc`
 *   with node (which the image has), as the gateway's Signal channel expects;
 * - every call appends its arguments to `<config>/stand-in-calls.log`, so a test sees where the
 *   wrapper pointed `--config`.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './util.js';

/** The version the generated Dockerfile pins (ARG SIGNAL_CLI_VERSION): the wrapper execs /opt/signal-cli-<it>/bin/signal-cli. */
export const STAND_IN_SIGNAL_CLI_VERSION = '0.13.12';

const DAEMON_JS = `
const http = require('node:http');
const [host, port] = process.argv[1].split(':');
http.createServer((req, res) => {
  if (req.url.startsWith('/api/v1/check')) return res.end('{}');
  if (req.url.startsWith('/api/v1/events')) { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write(':ok\\n\\n'); return; }
  if (req.url.startsWith('/api/v1/rpc')) {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => { let id = null; try { id = JSON.parse(body).id; } catch {} res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ jsonrpc: '2.0', id, result: {} })); });
    return;
  }
  res.statusCode = 404; res.end();
}).listen(Number(port), host, () => console.error('stand-in daemon listening on ' + host + ':' + port));
process.on('SIGTERM', () => process.exit(0));
`;

const STUB = `#!/bin/sh
# signal-cli stand-in (clawdfly test suite): see test/support/signal-cli-standin.ts
java -version >/dev/null 2>&1 || { echo "signal-cli stand-in: no java on PATH" >&2; exit 3; }
config=""
account=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config="$2"; shift 2 ;;
    -a|--account) account="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ -n "$config" ] || { echo "signal-cli stand-in: no --config" >&2; exit 4; }
mkdir -p "$config/data"
echo "config=$config account=$account args=$*" >> "$config/stand-in-calls.log"
case "$1" in
  link)
    echo "sgnl://linkdevice?uuid=stand-in&pub_key=stand-in"
    echo '{"accounts":[{"number":"+15551234567","path":"stand-in"}],"version":2}' > "$config/data/accounts.json"
    ;;
  daemon)
    shift
    http=""
    while [ $# -gt 0 ]; do
      case "$1" in --http) http="$2"; shift 2 ;; *) shift ;; esac
    done
    exec node -e '${DAEMON_JS.replace(/'/g, `'"'"'`)}' "$http"
    ;;
  --version|-v) echo "signal-cli ${STAND_IN_SIGNAL_CLI_VERSION}" ;;
esac
`;

export interface SignalCliStandIn {
  /** http://127.0.0.1:<port>/signal-cli-<version>.tar.gz */
  url: string;
  /** sha256 of the tarball: what the image's cache key depends on (the port changes every run). */
  tarballSha256: string;
  /** Paths the server was asked for. */
  requests: string[];
  close(): Promise<void>;
}

/** Builds the tarball (tar, gzip; fixed mtime so its bytes are stable) and serves it on a free loopback port. */
export async function startSignalCliStandIn(): Promise<SignalCliStandIn> {
  const work = mkdtempSync(join(tmpdir(), 'clawdfly-signal-cli-'));
  const top = `signal-cli-${STAND_IN_SIGNAL_CLI_VERSION}`;
  mkdirSync(join(work, top, 'bin'), { recursive: true });
  mkdirSync(join(work, top, 'lib'), { recursive: true });
  writeFileSync(join(work, top, 'bin', 'signal-cli'), STUB);
  chmodSync(join(work, top, 'bin', 'signal-cli'), 0o755);
  writeFileSync(join(work, top, 'lib', 'README'), 'stand-in: the real release keeps its jars here\n');
  const tarball = join(work, `${top}.tar`);
  await run('tar', ['--sort=name', '--mtime=2026-01-01 00:00Z', '--owner=0', '--group=0', '--numeric-owner', '-C', work, '-cf', tarball, top]);
  await run('gzip', ['-n', tarball]);
  const bytes = readFileSync(`${tarball}.gz`);
  rmSync(work, { recursive: true, force: true });

  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === `/${top}.tar.gz`) {
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': bytes.length });
      res.end(bytes);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/${top}.tar.gz`,
    tarballSha256: createHash('sha256').update(bytes).digest('hex'),
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
