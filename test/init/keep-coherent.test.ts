// `init --keep` with answers the kept fly.toml does not apply: fly.toml, .clawdfly/answers.json and
// the closing message agree on what the project really is (the kept file's), and a warning names
// the answers that were not applied.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';

it('init --keep --region lhr over an edited fly.toml in iad: fly.toml, answers.json and the message all say iad, and the warning says lhr was not applied', async () => {
  const dir = join(tempDir(), 'gateway');
  const base = ['init', '--yes', '--runtime', 'clawdbot', '--dir', dir, '--app', 'test-claw'];
  expect((await runCli([...base, '--region', 'iad'])).code).toBe(0);
  appendFileSync(join(dir, 'fly.toml'), '# my own note\n');
  const r = await runCli([...base, '--keep', '--region', 'lhr']);
  expect(r.code, r.stderr).toBe(0);
  expect(readFileSync(join(dir, 'fly.toml'), 'utf8')).toContain('primary_region = "iad"');
  expect(JSON.parse(readFileSync(join(dir, '.clawdfly', 'answers.json'), 'utf8')).region).toBe('iad');
  expect(r.stdout).toMatch(/ready for test-claw in iad/);
  expect(r.stdout).not.toMatch(/in lhr/);
  expect(r.stderr).toMatch(/not applied: region lhr \(fly\.toml keeps iad\)/);
});
