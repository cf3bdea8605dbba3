/**
 * doctor against a deployed gateway (the flyctl double) in Chinese: a key unset on Fly is reported,
 * with the model that needs it and the pipe that fixes it, in Chinese under LANG=zh_CN.UTF-8; the
 * same run with --json is English; the commands inside the fix are unchanged.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { APP, check, cleanupAll, deployed } from '../doctor/setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

afterAll(cleanupAll);

describe('doctor (flyctl double) speaks Chinese', () => {
  it('secrets unset on Fly: the finding, its reason and its fix in Chinese; --json in English', async () => {
    const d = await deployed();
    d.fly(['secrets', 'unset', 'ANTHROPIC_API_KEY', '-a', APP]);
    const zh = await d.doctor([], { LANG: 'zh_CN.UTF-8' });
    expect(zh.code).toBe(1);
    expect(zh.stdout).toMatch(/^✖ secrets +Fly 上未设置：ANTHROPIC_API_KEY \(主模型 anthropic\/claude-opus-4-5\)/m);
    expect(zh.stdout).toContain('期望：模型服务商和渠道的密钥已设置');
    expect(zh.stdout).toMatch(/→ printf 'ANTHROPIC_API_KEY=%s\\n' "\$ANTHROPIC_API_KEY" \| fly secrets import -a test-claw +（clawdfly doctor --dir \S+ --fix 会从 \.clawdfly\/secrets\.env 导入）/);
    expect(zh.stdout).toMatch(/^✔ app +机器 \S+ 正在 \S+ 运行/m);
    const json = await d.doctor(['--json'], { LANG: 'zh_CN.UTF-8' });
    expect(check(json.json, 'secrets').summary).toContain('not set on Fly: ANTHROPIC_API_KEY (primary model anthropic/claude-opus-4-5)');
    expect(json.stdout).not.toMatch(/[\u4e00-\u9fff]/);
  }, 300_000);
});
