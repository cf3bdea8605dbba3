/**
 * Issue 30, finding 4: `up --local` run as root hands .clawdfly/local-data/ to the container's user
 * (uid 1000), who writes there. A link planted in it must never hand its target to that user:
 * lchown changes the link itself, and a link to a folder is never entered. (No flyctl here: this is
 * the local state folder, prepared before the container starts.)
 */
import { lstatSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { prepareVolume, type ContainerEngine } from '../../src/local/container.js';

const GATEWAY_UID = 1000;

describe('up --local: the state folder handed to the container user', () => {
  it('changes the links planted in local-data/ themselves, never the root-owned files and folders they point at', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test plays root handing local-data/ to uid 1000: run the suite as root (the CI container does)');
    const outside = tempDir('clawdfly-outside-');
    const rootFile = join(outside, 'root-only.txt');
    writeFileSync(rootFile, 'root only', { mode: 0o600 });
    const rootDir = join(outside, 'root-dir');
    mkdirSync(rootDir);
    writeFileSync(join(rootDir, 'inner.txt'), 'root only too', { mode: 0o600 });

    const project = tempDir('clawdfly-local-data-');
    onTestFinished(() => {
      for (const dir of [outside, project]) rmSync(dir, { recursive: true, force: true });
    });
    const data = join(project, 'local-data');
    mkdirSync(join(data, 'agents', 'main'), { recursive: true });
    writeFileSync(join(data, 'agents', 'main', 'session.jsonl'), '{}\n');
    symlinkSync(rootFile, join(data, 'planted.json'));
    symlinkSync(rootDir, join(data, 'agents', 'planted-dir'));

    // as root, with docker (no user namespace to chown through): clawdfly's own walk
    await prepareVolume({ kind: 'docker' } as unknown as ContainerEngine, data);

    // the targets outside stay root's
    expect(statSync(rootFile).uid).toBe(0);
    expect(statSync(rootDir).uid).toBe(0);
    expect(statSync(join(rootDir, 'inner.txt')).uid).toBe(0);
    // what is inside is the container user's, the links included (changed themselves)
    for (const p of ['', 'agents', 'agents/main', 'agents/main/session.jsonl']) expect(lstatSync(join(data, p)).uid, p || '.').toBe(GATEWAY_UID);
    for (const p of ['planted.json', 'agents/planted-dir']) {
      expect(lstatSync(join(data, p)).isSymbolicLink()).toBe(true);
      expect(lstatSync(join(data, p)).uid, p).toBe(GATEWAY_UID);
    }
  });
});
