/**
 * The init wizard in Chinese on a real terminal (`script` gives the CLI a pty), answered the way a
 * person in Shanghai would: LANG=zh_CN.UTF-8 and TZ=Asia/Shanghai. Every prompt is waited for by its
 * Chinese text before the answer is typed (no pauses between keys). Proves the Chinese prompts and
 * summary, the region list that starts with the closest real regions (no hkg) and says so, the
 * Chinese providers offered for openclaw, the npm mirror question, and the files written.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '../helpers/cli.js';
import { CTRL_U, DOWN, ENTER, onTerminal, UP, type Terminal } from '../helpers/terminal.js';
import { CLEAN_ENV, freshDir, readSecretsFile } from '../init/util.js';

function wizard(dir: string, env: Record<string, string | undefined>): Terminal {
  return onTerminal(['init', '--dir', dir], { ...process.env, ...CLEAN_ENV, NO_COLOR: '1', CI: undefined, TERM: 'xterm-256color', npm_command: undefined, ...env }, { cols: 220, rows: 60 });
}

describe('init wizard in Chinese (LANG=zh_CN.UTF-8, TZ=Asia/Shanghai)', () => {
  it('asks every question in Chinese, starts the regions at nrt, offers DeepSeek, and writes the project', async () => {
    const dir = freshDir();
    const t = wizard(dir, { LANG: 'zh_CN.UTF-8', TZ: 'Asia/Shanghai' });

    await t.expect('在 Fly.io 上新建');
    // The gateway: openclaw (the one that knows DeepSeek). Whichever row is the default, go to openclaw.
    await t.expect('网关');
    const highlighted = await t.expect(/❯ [^\n]*/);
    t.type(highlighted.includes('OpenClaw') ? ENTER : DOWN + ENTER);
    await t.expect(/Fly 应用名（全局唯一，访问地址为 <name>\.fly\.dev）.*\(openclaw-[0-9a-f]{6}\)/);
    // A refused answer is explained in Chinese, in place.
    t.type('Bad_Name' + ENTER);
    await t.expect('应用名无效：只能用小写字母、数字和短横线，必须以字母开头，少于 63 个字符');
    t.type(CTRL_U + 'zh-wiz' + ENTER);
    await t.expect('Fly.io 在中国大陆和香港都没有机房（没有 hkg），下面先列出离你最近的区域。');
    await t.expect('区域（选离你近的；数据卷也放在那里）');
    // The list starts at Tokyo, then Singapore; Tokyo is the default.
    await t.expect(/❯ nrt {2}Tokyo, Japan\s+sin {2}Singapore/);
    t.type(ENTER);
    await t.expect('虚拟机规格');
    t.type(ENTER);
    await t.expect(/内存（MB，建议 2048；网关冷启动时峰值约 1 GB）.*\(2048\)/);
    t.type(ENTER);
    await t.expect(/数据卷名称.*\(openclaw_data\)/);
    t.type(ENTER);
    await t.expect(/数据卷大小（GB）.*\(1\)/);
    t.type(ENTER);
    await t.expect(/网关在机器内监听的端口.*\(3000\)/);
    t.type(ENTER);
    // Chinese providers first near China; no key at hand, so Anthropic is highlighted: four up is DeepSeek.
    await t.expect('模型服务商');
    await t.expect(/DeepSeek {2}\(deepseek\/deepseek-chat; 密钥放在 DEEPSEEK_API_KEY\)/);
    await t.expect(/❯ Anthropic/);
    t.type(UP + UP + UP + UP + ENTER);
    await t.expect(/主模型.*\(deepseek\/deepseek-chat\)/);
    t.type(ENTER);
    await t.expect(/备用模型（用逗号分隔；不要备用模型就填 "none"）.*\(none\)/);
    t.type(ENTER);
    await t.expect(/同时运行的智能体任务数（maxConcurrent）.*\(4\)/);
    t.type(ENTER);
    await t.expect('聊天渠道（空格键勾选');
    t.type(ENTER);
    await t.expect('设为私有：不分配公网地址，只能通过隧道访问（clawdfly open）？');
    t.type(ENTER);
    await t.expect('每次 push 时也通过 GitHub Actions 自动部署');
    t.type(ENTER);
    await t.expect('本地构建用的 npm 镜像');
    t.type('https://registry.npmmirror.com' + ENTER);
    await t.expect('DeepSeek API 密钥（DEEPSEEK_API_KEY；可以留空，稍后再加）');
    t.type(TEST_SECRETS.DEEPSEEK_API_KEY + ENTER);
    await t.expect(/费用：按 Fly 标价约 \$\d+\.\d\d\/月（shared-cpu-2x，2048 MB，1 GB 数据卷/);
    await t.expect(/向 .* 写入 \d+ 个文件？/);
    t.type(ENTER);
    await t.expect('zh-wiz 的项目已就绪，区域 nrt。');
    await t.expect('下一步：clawdfly deploy');
    await t.expect('本地构建使用的 npm 镜像：https://registry.npmmirror.com/（Fly 的远程构建机在境外，部署时用不到它）');
    expect(await t.exited).toBe(0);

    // Masked: the typed key never reached the terminal, and it lives in secrets.env only.
    expect(t.text.includes(TEST_SECRETS.DEEPSEEK_API_KEY)).toBe(false);
    expect(readSecretsFile(dir)['DEEPSEEK_API_KEY']).toBe(TEST_SECRETS.DEEPSEEK_API_KEY);
    const answers = JSON.parse(readFileSync(join(dir, '.clawdfly', 'answers.json'), 'utf8'));
    expect(answers).toMatchObject({ app: 'zh-wiz', region: 'nrt', model: { primary: 'deepseek/deepseek-chat', fallbacks: [] }, npmRegistry: 'https://registry.npmmirror.com/' });
    expect(answers.runtime).toMatch(/^openclaw@/);
    const configText = readFileSync(join(dir, 'openclaw.json'), 'utf8');
    expect(configText).not.toContain(TEST_SECRETS.DEEPSEEK_API_KEY);
    const config = JSON.parse(configText);
    expect(config.models.providers.deepseek).toMatchObject({ baseUrl: 'https://api.deepseek.com/v1', api: 'openai-completions', apiKey: { source: 'env', provider: 'default', id: 'DEEPSEEK_API_KEY' } });
  }, 90_000);
});
