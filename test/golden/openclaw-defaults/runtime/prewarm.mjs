// clawdfly: runs once while the image is built. Starts the gateway on loopback until it listens,
// so its extensions are transpiled into a jiti cache that ships in the image; the entrypoint
// copies that cache onto the volume at first boot, making even the first boot warm.
// Generated for openclaw@2026.9.6. Failure only costs speed: the image works without the cache.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const TARGET = '/app/.jiti-cache';
const TIMEOUT_MS = 240_000;
const scratch = mkdtempSync('/tmp/clawdfly-prewarm-');
const env = {
  ...process.env,
  TMPDIR: join(scratch, 'tmp'),
  HOME: join(scratch, 'home'),
  'OPENCLAW_STATE_DIR': join(scratch, 'state'),
  'OPENCLAW_DISABLE_BONJOUR': '1',
  NODE_ENV: 'production',
};
// The gateway run in-process does not turn its Node compile cache on by itself (the entrypoint does the same).
env['NODE_COMPILE_CACHE'] = join(env.TMPDIR, 'node-compile-cache');
for (const dir of [env.TMPDIR, env.HOME]) mkdirSync(dir, { recursive: true });

const started = Date.now();
const child = spawn(process.execPath, ["dist/index.js","gateway","--allow-unconfigured","--port","18789","--bind","loopback"], {
  env,
  cwd: '/app/node_modules/openclaw',
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
const result = await new Promise((resolve) => {
  const timer = setTimeout(() => resolve('timeout'), TIMEOUT_MS);
  const onData = (chunk) => {
    output += chunk;
    if (/\[gateway\] http server listening \(/.test(output)) {
      clearTimeout(timer);
      resolve('listening');
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.on('exit', (code) => {
    clearTimeout(timer);
    resolve(`exited with code ${code}`);
  });
});
child.kill('SIGTERM');
await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', resolve)));

const jiti = join(env.TMPDIR, 'node-compile-cache');
if (result === 'listening' && existsSync(jiti)) {
  cpSync(jiti, TARGET, { recursive: true });
  console.log(`[clawdfly] transpile cache prewarmed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} else {
  console.log(`[clawdfly] prewarm skipped (${result}); boots will be cold until the cache on the volume is built`);
  console.log(output.split('\n').slice(-15).join('\n'));
}
rmSync(scratch, { recursive: true, force: true });
