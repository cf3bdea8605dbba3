// A stand-in gateway for the supervisor's tests: an HTTP server on localhost that answers its
// liveness path like openclaw 2026.9.6 (`GET /healthz` → 200 {"ok":true,"status":"live"}) and
// shuts down on SIGTERM with a line like the real one. A test freezes it with SIGSTOP.
//   --port N            where to listen (127.0.0.1)
//   --listen-after MS   start-up: listen only after this long (never with -1)
//   --ignore-sigterm    a gateway too stuck to act on SIGTERM (only SIGKILL ends it)
//   --exit-after MS --exit-code N   end by itself
import { createServer } from 'node:http';

const args = process.argv.slice(2);
const value = (flag) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const port = Number(value('--port'));
const listenAfter = Number(value('--listen-after') ?? 0);
const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true,"status":"live"}');
  } else {
    res.writeHead(404);
    res.end('not found');
  }
});
const listen = () => server.listen(port, '127.0.0.1', () => console.log(`[gateway] fake listening on ${port} (PID ${process.pid})`));
console.log(`[gateway] fake starting (PID ${process.pid})`);
if (listenAfter >= 0) setTimeout(listen, listenAfter);
else setInterval(() => {}, 1 << 30);
process.on('SIGTERM', () => {
  if (args.includes('--ignore-sigterm')) {
    console.log('[gateway] fake ignores SIGTERM');
    return;
  }
  console.log('[gateway] received SIGTERM; shutting down');
  server.close();
  process.exit(0);
});
if (value('--exit-after')) setTimeout(() => process.exit(Number(value('--exit-code') ?? 0)), Number(value('--exit-after')));
