/**
 * The build-context hash that decides whether `up --local` builds: it changes exactly when the
 * image would (a file the Dockerfile copies, the Dockerfile), never for run-time configuration
 * (fly.toml), local state or what .dockerignore keeps out of the context.
 */
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contextHash, copiedSources, dockerignoreMatcher } from '../../src/local/container.js';

function project(dockerfile: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'clawdfly-ctx-'));
  mkdirSync(join(dir, 'runtime'));
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  writeFileSync(join(dir, '.dockerignore'), '.clawdfly\nruntime/node_modules\n*.log\n');
  writeFileSync(join(dir, 'fly.toml'), '[http_service]\ninternal_port = 3000\n');
  writeFileSync(join(dir, 'clawdbot.json'), '{}\n');
  writeFileSync(join(dir, 'runtime', 'package.json'), '{}\n');
  return dir;
}

const SELECTIVE = 'FROM node:22\nCOPY --chown=node:node runtime/package.json \\\n  /app/\nCOPY ["clawdbot.json", "/app/"]\nCOPY --from=builder /x /y\nEXPOSE 3000\n';

describe('contextHash', () => {
  it('reads the COPY/ADD sources, or gives up on . and wildcards', () => {
    expect(copiedSources(SELECTIVE)).toEqual(['runtime/package.json', 'clawdbot.json']);
    expect(copiedSources('FROM x\nCOPY . /app\n')).toBeUndefined();
    expect(copiedSources('FROM x\nCOPY runtime/*.mjs /app/\n')).toBeUndefined();
  });

  it('follows .dockerignore: patterns from the root, ** across folders, ! re-includes', () => {
    const ignored = dockerignoreMatcher('*.log\nruntime/node_modules\n**/cache\n!keep.log\n');
    expect(ignored('npm-debug.log')).toBe(true);
    expect(ignored('keep.log')).toBe(false);
    expect(ignored('runtime/x.log')).toBe(false);
    expect(ignored('runtime/node_modules/a/b.js')).toBe(true);
    expect(ignored('a/b/cache')).toBe(true);
    expect(ignored('.clawdfly/secrets.env')).toBe(true); // always, whatever the file says
    expect(ignored('runtime/package.json')).toBe(false);
  });

  it('ignores run-time configuration and local state, and sees every copied file', async () => {
    const dir = project(SELECTIVE);
    const before = await contextHash(dir);
    writeFileSync(join(dir, 'fly.toml'), '[http_service]\ninternal_port = 8080\n');
    mkdirSync(join(dir, '.clawdfly', 'local-data'), { recursive: true });
    writeFileSync(join(dir, '.clawdfly', 'local-data', 'state.json'), '{}');
    mkdirSync(join(dir, 'runtime', 'node_modules'));
    writeFileSync(join(dir, 'runtime', 'node_modules', 'x.js'), '');
    writeFileSync(join(dir, 'README.md'), 'notes\n');
    expect(await contextHash(dir)).toBe(before);
    appendFileSync(join(dir, 'clawdbot.json'), ' ');
    const afterConfig = await contextHash(dir);
    expect(afterConfig).not.toBe(before);
    appendFileSync(join(dir, 'Dockerfile'), 'USER node\n');
    expect(await contextHash(dir)).not.toBe(afterConfig);
  });

  it('counts the whole context when the Dockerfile copies all of it', async () => {
    const dir = project('FROM x\nCOPY . /app\n');
    const before = await contextHash(dir);
    writeFileSync(join(dir, 'fly.toml'), 'changed\n');
    expect(await contextHash(dir)).not.toBe(before);
  });
});
