/**
 * Re-running init over an existing project: identical files stay untouched, a file the user
 * edited is never silently overwritten (conflict + diff, or --keep / --force), a file still as
 * init wrote it follows changed answers, and line-set files (.gitignore) get missing lines appended.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '../helpers/cli.js';
import { freshDir, init, snapshot, stderrLines } from './util.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const KEYS = { ANTHROPIC_API_KEY: TEST_SECRETS.ANTHROPIC_API_KEY, OPENAI_API_KEY: TEST_SECRETS.OPENAI_API_KEY };
const EDIT = '\n# my own change: keep this\n';

type FileStatus = { path: string; status: string };

async function initJson(args: string[]) {
  const result = await init([...args, '--json'], { env: KEYS });
  return { ...result, doc: result.code === 0 ? (JSON.parse(result.stdout) as { files: FileStatus[] }) : undefined };
}

function statusOf(files: FileStatus[] | undefined, path: string): string | undefined {
  return files?.find((f) => f.path === path)?.status;
}

describe('init re-run', { timeout: 60_000 }, () => {
  let dir: string;
  let original: string;
  beforeEach(async () => {
    dir = freshDir();
    const first = await initJson(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'again-claw', '--region', 'lhr']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.doc!.files.every((f) => f.status === 'create')).toBe(true);
    original = readFileSync(join(dir, 'fly.toml'), 'utf8');
  });

  it('with the same answers reports every file identical and changes no byte', async () => {
    const before = snapshot(dir);
    const again = await initJson(['--yes', '--dir', dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.doc!.files.length).toBeGreaterThanOrEqual(9);
    for (const file of again.doc!.files) expect(file.status, file.path).toBe('identical');
    expect(snapshot(dir)).toEqual(before);

    const human = await init(['--yes', '--dir', dir], { env: KEYS });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/identical\s+fly\.toml/);
    expect(human.stdout).not.toMatch(/create|conflict/);
  });

  it('refuses to overwrite an edited fly.toml with --yes: exit 2, a diff, nothing written', async () => {
    writeFileSync(join(dir, 'fly.toml'), original + EDIT);
    const before = snapshot(dir);
    const result = await init(['--yes', '--dir', dir], { env: KEYS });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--- fly.toml (yours)');
    expect(result.stderr).toContain('+++ fly.toml (generated)');
    expect(result.stderr).toContain('-# my own change: keep this');
    const lines = stderrLines(result);
    expect(lines.find((l) => l.startsWith('✖ '))).toMatch(/1 file\(s\) differ from what init would write: fly\.toml$/);
    expect(lines[lines.length - 1]).toMatch(/→ --force to overwrite them, or --keep to keep yours/);
    expect(snapshot(dir)).toEqual(before);
  });

  it('--keep keeps the edited file and writes the rest', async () => {
    writeFileSync(join(dir, 'fly.toml'), original + EDIT);
    const result = await initJson(['--yes', '--dir', dir, '--keep']);
    expect(result.code, result.stderr).toBe(0);
    expect(statusOf(result.doc?.files, 'fly.toml')).toBe('kept');
    expect(readFileSync(join(dir, 'fly.toml'), 'utf8')).toBe(original + EDIT);
    // Still "edited" next time: a plain re-run conflicts again.
    expect((await init(['--yes', '--dir', dir], { env: KEYS })).code).toBe(2);
  });

  it('--keep with a new --memory warns that the kept fly.toml does not apply it, and prices what it keeps', async () => {
    writeFileSync(join(dir, 'fly.toml'), original + EDIT);
    const result = await init(['--yes', '--dir', dir, '--keep', '--memory', '4096'], { env: KEYS });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/fly\.toml was kept, so these answers are not applied: memoryMb 4096 \(fly\.toml keeps 2048\).*--force/);
    expect(result.stdout).toMatch(/Cost: .*2048 MB/);
    expect(readFileSync(join(dir, 'fly.toml'), 'utf8')).toBe(original + EDIT);
  });

  it('--force overwrites the edited file with the generated one', async () => {
    writeFileSync(join(dir, 'fly.toml'), original + EDIT);
    const result = await initJson(['--yes', '--dir', dir, '--force']);
    expect(result.code, result.stderr).toBe(0);
    expect(statusOf(result.doc?.files, 'fly.toml')).toBe('conflict');
    expect(readFileSync(join(dir, 'fly.toml'), 'utf8')).toBe(original);
  });

  it('a changed answer updates files the user did not edit, without --force', async () => {
    const result = await initJson(['--yes', '--dir', dir, '--port', '8080']);
    expect(result.code, result.stderr).toBe(0);
    expect(statusOf(result.doc?.files, 'fly.toml')).toBe('update');
    // The port is run-time configuration: the Dockerfile (so the image) stays as it is.
    expect(statusOf(result.doc?.files, 'Dockerfile')).toBe('identical');
    expect(statusOf(result.doc?.files, 'clawdbot.json')).toBe('identical');
    expect(readFileSync(join(dir, 'fly.toml'), 'utf8')).toContain('internal_port = 8080');
    const answers = JSON.parse(readFileSync(join(dir, '.clawdfly', 'answers.json'), 'utf8'));
    expect(answers.port).toBe(8080);
    // The answers are remembered: a plain re-run is identical.
    const again = await initJson(['--yes', '--dir', dir]);
    expect(again.doc!.files.every((f) => f.status === 'identical')).toBe(true);
  });

  it('a changed answer on top of a user edit is a conflict', async () => {
    writeFileSync(join(dir, 'fly.toml'), original + EDIT);
    const result = await init(['--yes', '--dir', dir, '--port', '8080'], { env: KEYS });
    expect(result.code).toBe(2);
    expect(readFileSync(join(dir, 'fly.toml'), 'utf8')).toBe(original + EDIT);
  });
});

describe('init over a folder that already has a .gitignore', { timeout: 60_000 }, () => {
  it.each([
    ['ending with a newline', 'node_modules/\n*.log\n'],
    ['without a final newline', 'node_modules/\n*.log'],
    ['already listing secrets.env', 'node_modules/\n.clawdfly/secrets.env\n'],
  ])('appends the missing lines, keeping the user\'s (%s)', async (_label, userText) => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '.gitignore'), userText);
    const result = await initJson(['--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'ignore-claw']);
    expect(result.code, result.stderr).toBe(0);
    expect(statusOf(result.doc?.files, '.gitignore')).toBe('update');

    const text = readFileSync(join(dir, '.gitignore'), 'utf8');
    expect(text.startsWith(userText)).toBe(true);
    const lines = text.split('\n');
    expect(lines.filter((l) => l === '.clawdfly/secrets.env')).toHaveLength(1);
    expect(lines).toContain('.clawdfly/local-data/');
    expect(lines).toContain('node_modules/');
    expect(text.endsWith('\n')).toBe(true);
    expect(statSync(join(dir, '.gitignore')).mode & 0o777).toBe(0o644);

    // And a second run leaves it alone.
    const again = await initJson(['--yes', '--dir', dir]);
    expect(statusOf(again.doc?.files, '.gitignore')).toBe('identical');
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe(text);
  });
});

describe('init re-run, openclaw', { timeout: 60_000 }, () => {
  it('--private follows into openclaw.json: the Control UI origins become the Flycast and tunnel ones', async () => {
    const dir = freshDir();
    const first = await initJson(['--yes', '--dir', dir, '--app', 'oc-claw', '--runtime', 'openclaw']);
    expect(first.code, first.stderr).toBe(0);
    const origins = () => JSON.parse(readFileSync(join(dir, 'openclaw.json'), 'utf8')).gateway.controlUi.allowedOrigins;
    expect(origins()).toEqual(['https://oc-claw.fly.dev']);
    const again = await initJson(['--yes', '--dir', dir]);
    expect(statusOf(again.doc?.files, 'openclaw.json')).toBe('identical');
    const priv = await initJson(['--yes', '--dir', dir, '--private']);
    expect(priv.code, priv.stderr).toBe(0);
    expect(statusOf(priv.doc?.files, 'openclaw.json')).toBe('update');
    expect(origins()).toEqual(['http://oc-claw.flycast', 'http://127.0.0.1:18789', 'http://localhost:18789']);
  });
});

