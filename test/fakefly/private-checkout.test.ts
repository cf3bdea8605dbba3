// A checkout under a 0700 folder (root's home, a `mktemp -d`): a machine script that setpriv drops
// to the gateway user (uid 1000) re-enters the double through its `node` shim, and must still
// work, because the double hands that user a copy of its code in its (traversable) state dir,
// never the checkout's own path. The test copies the double under a fresh 0700 folder and drives it
// from there, as a clone in such a folder would.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const TEST_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const GATEWAY_UID = 1000;

const FLY_TOML = `app = "claw-private"
primary_region = "iad"

[processes]
  app = "node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan"

[mounts]
  source = "clawdbot_data"
  destination = "/data"
`;

it('a script dropped to uid 1000 runs node through the double when the checkout sits under a 0700 folder', async () => {
  if (process.getuid?.() !== 0) throw new Error('this test plays root against a gateway user: run the suite as root (the CI container does)');
  const hidden = fs.mkdtempSync(path.join(os.tmpdir(), 'clawdfly-0700-'));
  expect(fs.statSync(hidden).mode & 0o777).toBe(0o700);
  const copy = path.join(hidden, 'clone', 'test');
  fs.cpSync(path.join(TEST_DIR, 'fakefly'), path.join(copy, 'fakefly'), { recursive: true });
  fs.mkdirSync(path.join(copy, 'support'), { recursive: true });
  fs.copyFileSync(path.join(TEST_DIR, 'support', 'podman-engine.mjs'), path.join(copy, 'support', 'podman-engine.mjs'));
  const { createFakeFly } = (await import(path.join(copy, 'fakefly', 'control.mjs'))) as { createFakeFly: (o: object) => { dir: string; env: Record<string, string>; cleanup(): void } };
  const fake = createFakeFly({ env: { FAKEFLY_VOLUME_OWNER: `${GATEWAY_UID}:${GATEWAY_UID}` } });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fakefly-work-'));
  try {
    // the state dir is what tests make traversable for the gateway user (test/backup/setup.ts)
    fs.chmodSync(fake.dir, 0o755);
    fs.writeFileSync(path.join(work, 'fly.toml'), FLY_TOML);
    fs.writeFileSync(path.join(work, 'Dockerfile'), 'FROM node:22-bookworm-slim\n');
    const fly = (args: string[]) => spawnSync('flyctl', args, { cwd: work, env: fake.env, encoding: 'utf8' });
    expect(fly(['apps', 'create', 'claw-private']).status).toBe(0);
    const deployed = fly(['deploy', '-a', 'claw-private', '-c', 'fly.toml', '--ha=false', '--remote-only', '-y']);
    expect(deployed.status, deployed.stderr).toBe(0);
    const r = fly(['ssh', 'console', '-a', 'claw-private', '-C', `setpriv --reuid ${GATEWAY_UID} --regid ${GATEWAY_UID} --clear-groups sh -c 'node -e "process.stdout.write(String(process.getuid()))"'`]);
    expect(r.stderr).not.toMatch(/EACCES|permission denied/i);
    expect(r.stdout.trim()).toBe(String(GATEWAY_UID));
    expect(r.status, r.stderr).toBe(0);
  } finally {
    fake.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(hidden, { recursive: true, force: true });
  }
});
