/**
 * The flyctl double with real machines (FAKEFLY_BACKEND=podman: each machine a container of the
 * project's image), as the real-image tests use it: test/e2e/journey.test.ts,
 * test/e2e/upgrade-journey.test.ts, test/backup/backup.image.test.ts. One place for its settings and
 * for reading a machine's container output.
 */
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
// @ts-expect-error plain ESM without types
import { createFakeFly } from '../fakefly/control.mjs';
// @ts-expect-error plain ESM without types
import { podmanContainer, removePodmanContainersAsync } from '../fakefly/lib/backend-podman.mjs';
import { podman } from './podman.js';
import { sleep, tail } from './util.js';

const MIN = 60_000;

/**
 * A double beside the project whose machines publish the gateway on 127.0.0.1:`hostPort` (also the
 * URL deploy verifies), with verification polling every second for up to `verifyTimeoutMs`.
 */
export function createPodmanFly<Fake>(projectDir: string, hostPort: number, verifyTimeoutMs: number): Fake {
  return createFakeFly({
    dir: join(dirname(projectDir), 'fakefly'),
    env: {
      FAKEFLY_BACKEND: 'podman',
      FAKEFLY_PODMAN_OWNER_PID: String(process.pid),
      FAKEFLY_PODMAN_HOST_PORT: String(hostPort),
      FAKEFLY_LOGS_EMPTY_EXIT: '1',
      CLAWDFLY_APP_URL: `http://127.0.0.1:${hostPort}/`,
      CLAWDFLY_VERIFY_INTERVAL_MS: '1000',
      CLAWDFLY_VERIFY_TIMEOUT_MS: String(verifyTimeoutMs),
    },
  }) as Fake;
}

/** Its containers, its state and the project's temp folder gone. */
export async function disposePodmanFly(fake: { dir: string; cleanup(): void } | undefined, projectDir: string): Promise<void> {
  if (fake) {
    await removePodmanContainersAsync(fake.dir);
    fake.cleanup();
  }
  if (projectDir) await rm(dirname(projectDir), { recursive: true, force: true });
}

/**
 * The double's flyctl calls that exited non-zero (argv and exit code), one per line: what a failed
 * `deploy --json` in an image test is explained by, beside its own JSON error.
 */
export function failedFlyCalls(fake: { invocations(): { argv: string[]; exitCode: number | null }[] }): string {
  const failed = fake.invocations().filter((c) => c.exitCode !== 0);
  return failed.length ? failed.map((c) => `flyctl ${c.argv.join(' ')} → exit ${c.exitCode}`).join('\n') : 'no flyctl call failed';
}

export interface LogMark {
  id: string;
  offset: number;
}

/** The machine's current container: its id and its output so far (stdout and stderr in order). */
export async function containerLogs(fakeDir: string, machineId: string): Promise<{ id: string; text: string }> {
  const name = podmanContainer(fakeDir, machineId) as string;
  const id = (await podman(['inspect', '--type', 'container', '--format', '{{.Id}}', name], { check: false })).stdout.trim();
  const r = await podman(['logs', name], { check: false, timeoutMs: 2 * MIN });
  return { id, text: r.stdout + r.stderr };
}

export async function logMark(fakeDir: string, machineId: string): Promise<LogMark> {
  const { id, text } = await containerLogs(fakeDir, machineId);
  return { id, offset: text.length };
}

/**
 * Polls the live container's output for a line (after `mark`, when it is still the same container);
 * fails fast with the log tail when the container stops.
 */
export async function waitForContainerLog(fakeDir: string, machineId: string, re: RegExp, timeoutMs: number, mark?: LogMark): Promise<string> {
  const name = podmanContainer(fakeDir, machineId) as string;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { id, text } = await containerLogs(fakeDir, machineId);
    const from = mark && mark.id === id ? mark.offset : 0;
    const hit = text.slice(from).split('\n').find((l) => re.test(l));
    if (hit) return hit;
    const st = await podman(['inspect', '--type', 'container', '--format', '{{.State.Running}} {{.State.ExitCode}}', name], { check: false });
    if (!st.stdout.startsWith('true') || Date.now() > deadline) {
      throw new Error(`${st.stdout.startsWith('true') ? `timed out after ${timeoutMs} ms` : `container ${name} stopped (${st.stdout.trim()})`} waiting for ${re}\n--- log tail ---\n${tail(text, 40)}`);
    }
    await sleep(1_000);
  }
}
