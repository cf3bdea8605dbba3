/**
 * `clawdfly doctor --offline` on a project with a planted problem (fly.toml's gateway bound to
 * loopback: the seed's "app is not listening on the expected address") speaks the reader's language:
 * Chinese under LANG=zh_CN.UTF-8 or --lang zh-CN, English under LANG=C or when LC_ALL=C overrides
 * LANG; --json stays English whatever the locale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { freshDir, init } from '../init/util.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

let dir: string;
beforeAll(async () => {
  dir = freshDir();
  const r = await init(['--yes', '--runtime', 'openclaw', '--dir', dir, '--app', 'lang-doctor']);
  expect(r.code, r.stderr).toBe(0);
  const flyToml = join(dir, 'fly.toml');
  const text = readFileSync(flyToml, 'utf8');
  expect(text).toContain('--bind lan"');
  writeFileSync(flyToml, text.replace('--bind lan"', '--bind loopback"'));
});

const doctor = (env: Record<string, string | undefined>, extra: string[] = []) =>
  runCli(['doctor', '--offline', '--dir', dir, ...extra], { env: { LC_ALL: undefined, LC_MESSAGES: undefined, LANG: undefined, ...env } });

/** The bind row and the lines under it (title, evidence, fix). */
function bindBlock(stdout: string): string {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => /^✖ bind\b/.test(l));
  expect(start, stdout).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && /^[✔!✖-] /.test(l));
  return lines.slice(start, end).join('\n');
}

const CHINESE_BIND = {
  finding: '网关只监听回环地址：Fly 的代理连不上它',
  title: '期望：网关监听在回环地址之外（--bind lan）',
  fix: '→ 在 fly.toml 的 [processes] app 中加上 --bind lan，然后运行：clawdfly deploy',
};
const ENGLISH_BIND = {
  finding: "gateway bound to loopback: Fly's proxy cannot reach it",
  title: 'expected: gateway listens beyond loopback (--bind lan)',
  fix: '→ add --bind lan to fly.toml [processes] app, then: clawdfly deploy',
};

describe('doctor speaks the locale', () => {
  it('LANG=zh_CN.UTF-8: the failing check, what it expects and its fix are in Chinese', async () => {
    const r = await doctor({ LANG: 'zh_CN.UTF-8' });
    expect(r.code).toBe(1);
    const block = bindBlock(r.stdout);
    for (const text of Object.values(CHINESE_BIND)) expect(block).toContain(text);
    // The command in the fix is still the one to paste.
    expect(block).toMatch(/clawdfly deploy --dir \S+/);
    expect(r.stdout).toMatch(/项正常，\d+ 项警告，1 项失败，\d+ 项跳过（离线）/);
    expect(r.stdout).toContain('已跳过：--offline 模式（需要 flyctl）');
    expect(r.stdout).not.toContain(ENGLISH_BIND.finding);
  });

  it('LANG=C: the same check and fix in English', async () => {
    const r = await doctor({ LANG: 'C' });
    expect(r.code).toBe(1);
    const block = bindBlock(r.stdout);
    for (const text of Object.values(ENGLISH_BIND)) expect(block).toContain(text);
    expect(r.stdout).not.toMatch(/[\u4e00-\u9fff]/);
  });

  it('LC_ALL=C beats LANG=zh_CN.UTF-8; --lang zh-CN beats LANG=C', async () => {
    const c = await doctor({ LC_ALL: 'C', LANG: 'zh_CN.UTF-8' });
    expect(bindBlock(c.stdout)).toContain(ENGLISH_BIND.fix);
    const zh = await doctor({ LANG: 'C' }, ['--lang', 'zh-CN']);
    expect(bindBlock(zh.stdout)).toContain(CHINESE_BIND.fix);
  });

  it('--json is never translated', async () => {
    const r = await doctor({ LANG: 'zh_CN.UTF-8' }, ['--json']);
    const report = JSON.parse(r.stdout) as { checks: { id: string; summary: string; fix: string | null }[] };
    const bind = report.checks.find((c) => c.id === 'bind')!;
    expect(bind.summary).toContain(ENGLISH_BIND.finding);
    expect(r.stdout).not.toMatch(/[\u4e00-\u9fff]/);
  });

  it('an unknown --lang is refused with exit 2 and the values it takes', async () => {
    const r = await doctor({}, ['--lang', 'tlh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unsupported language "tlh"');
    expect(r.stderr).toContain('--lang zh-CN');
  });
});
