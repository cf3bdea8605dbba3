/**
 * `restore` against a deployed gateway (the flyctl double) in Chinese: under LANG=zh_CN.UTF-8 the
 * refusal without a terminal (and without --yes) gives its cause in Chinese with the unchanged
 * `--yes` command, exit 2, before any flyctl call; a restore prints its plan, its steps and its
 * outcome in Chinese; `--lang en` gives the English lines, and `--json` stays English. `backup`
 * reports its step, its archive and the restore command in Chinese as well.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Deployed } from '../config/setup.js';
import { APP } from '../config/setup.js';
import { asGateway, CREDS, gatewayWithState, trackDeployments } from '../backup/setup.js';
import { useInProcessCli } from '../helpers/cli.js';

// clawdfly runs in this process (test/helpers/cli.ts runCliInProcess): these tests need no real process
useInProcessCli();

const live = trackDeployments();

const ZH = { LANG: 'zh_CN.UTF-8' };
const CJK = /[\u4e00-\u9fff]/;

async function withBackup(): Promise<{ d: Deployed; file: string }> {
  const d = await gatewayWithState(['--runtime', 'clawdbot']);
  live.push(d);
  const b = await d.cli(['backup', '--json']);
  expect(b.code, b.stderr).toBe(0);
  return { d, file: JSON.parse(b.stdout).file as string };
}

describe('restore (flyctl double) speaks Chinese', () => {
  it('no terminal and no --yes: the cause in Chinese, the --yes command unchanged, exit 2, nothing called; --lang en and --json stay English', async () => {
    const { d, file } = await withBackup();
    const calls = d.fake.invocations().length;

    const zh = await d.cli(['restore', file], ZH);
    expect(zh.code, zh.stdout + zh.stderr).toBe(2);
    expect(zh.stderr).toContain(`✖ 恢复会替换 ${APP} 上的 /data，需要你确认，但当前没有可以提问的终端`);
    expect(zh.stderr).toMatch(/→ 加上 --yes：clawdfly restore .*\S+\.tar\.gz --yes\n/);
    expect(zh.stderr).not.toContain('needs confirmation');

    const en = await d.cli(['restore', file, '--lang', 'en'], ZH);
    expect(en.code).toBe(2);
    expect(en.stderr).toContain(`✖ restoring replaces /data on ${APP} and needs confirmation, and there is no terminal to ask on`);
    expect(en.stderr).toMatch(/→ add --yes: clawdfly restore .*\S+\.tar\.gz --yes\n/);
    expect(en.stdout + en.stderr).not.toMatch(CJK);

    const json = await d.cli(['restore', file, '--json'], ZH);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'not-confirmed', message: `restoring replaces /data on ${APP} and needs confirmation, and there is no terminal to ask on` });
    expect(json.stdout).not.toMatch(CJK);
    // refused before any flyctl call, in every language
    expect(d.fake.invocations().length).toBe(calls);
  }, 240_000);

  it('an archive that is not there, or of another app: the cause in Chinese, the command or flag unchanged, exit 2, nothing called', async () => {
    const { d, file } = await withBackup();
    const calls = d.fake.invocations().length;
    const missing = await d.cli(['restore', join(d.dir, 'nope.tar.gz'), '--yes'], ZH);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/✖ 找不到归档：\S+nope\.tar\.gz\n {2}→ clawdfly backup list(?: --dir \S+)? {2}（列出这个项目的归档）/);

    // the same archive, its manifest saying another app (same length, so the tar stays valid)
    const tar = gunzipSync(readFileSync(file));
    const at = tar.indexOf(`"app": "${APP}"`);
    expect(at).toBeGreaterThan(0);
    const otherApp = join(d.dir, 'other-app.tar.gz');
    writeFileSync(otherApp, gzipSync(Buffer.concat([tar.subarray(0, at), Buffer.from(`"app": "${APP.replace('t', 'x')}"`), tar.subarray(at + `"app": "${APP}"`.length)])));
    const other = await d.cli(['restore', otherApp, '--yes'], ZH);
    expect(other.code, other.stdout + other.stderr).toBe(2);
    expect(other.stderr).toContain(`✖ 这个归档是应用 xest-claw 的备份，而本项目的应用是 ${APP}\n  → 如果确实要把它恢复到 ${APP}，请指明目标：--app ${APP}\n`);
    const english = await d.cli(['restore', otherApp, '--yes', '--lang', 'en'], ZH);
    expect(english.stderr).toContain(`✖ the archive is a backup of app xest-claw, and this project's app is ${APP}\n  → to restore it into ${APP} anyway, name the target: --app ${APP}\n`);
    expect(d.fake.invocations().length).toBe(calls);
  }, 240_000);

  it('a restore with --yes: the plan, the steps and the outcome in Chinese; the same restore with --lang en in English', async () => {
    const { d, file } = await withBackup();
    const data = d.remotePath('/data');
    asGateway(data, CREDS, '{"changed":true}', 0o600);

    const zh = await d.cli(['restore', file, '--yes'], ZH);
    expect(zh.code, zh.stdout + zh.stderr).toBe(0);
    const text = zh.stdout + zh.stderr;
    expect(text).toMatch(/✔ \S+\.tar\.gz：test-claw 的 \d+ 个文件，创建于 \S+，已按其清单校验/);
    expect(text).toMatch(/✔ 先保存 test-claw 的当前状态 \(\d+\.\ds\)/);
    expect(text).toMatch(/^这次恢复会改动 \/data：替换 1 个，删除 0 个，新增 0 个，\d+ 个不变$/m);
    expect(text).toContain(`  ~ ${CREDS}`);
    expect(text).toMatch(/^ {2}（在做任何改动之前，当前状态会先保存到 \S+\.tar\.gz）$/m);
    expect(text).toMatch(/✔ 正在把 .+ 恢复到 \S+ 上的 \/data/);
    expect(text).toMatch(/✔ 正在重启机器 \S+ \(\d+\.\ds\)/);
    // the double's image is one from an older clawdfly: swapped while the gateway runs, and said so
    expect(text).toMatch(/! 机器 \S+ 运行的镜像（由旧版 clawdfly 构建）无法在网关启动前应用恢复：已在网关运行时直接替换。运行 clawdfly deploy 可以更新镜像。/);
    expect(text).toContain('✔ 正在等待网关在恢复后的状态上启动');
    expect(text).toMatch(/✔ test-claw 已运行在恢复后的状态上（\d+ 个文件，\d+\.\d KB）$/m);
    expect(text).toMatch(/^ {2}被替换的状态：\S+\.tar\.gz$/m);
    expect(text).not.toMatch(/This restore changes|runs on the restored state|the state it replaced/);

    asGateway(data, CREDS, '{"changed":"again"}', 0o600);
    const en = await d.cli(['restore', file, '--yes', '--lang', 'en'], ZH);
    expect(en.code, en.stdout + en.stderr).toBe(0);
    const english = en.stdout + en.stderr;
    expect(english).toMatch(/✔ \S+\.tar\.gz: \d+ files of test-claw from \S+, verified against its manifest/);
    expect(english).toMatch(/^This restore changes \/data: 1 replaced, 0 removed, 0 added, \d+ unchanged$/m);
    expect(english).toMatch(/^ {2}\(the current state is saved in \S+\.tar\.gz before anything changes\)$/m);
    expect(english).toMatch(/✔ Restarting machine \S+ \(\d+\.\ds\)/);
    expect(english).toContain('runs an image that cannot apply a restore before its gateway starts (made by an older clawdfly): swapped while the gateway runs. clawdfly deploy updates it.');
    expect(english).toMatch(/✔ test-claw runs on the restored state \(\d+ files, \d+\.\d KB\)$/m);
    expect(english).toMatch(/^ {2}the state it replaced: \S+\.tar\.gz$/m);
    expect(english).not.toMatch(CJK);
  }, 240_000);
});

describe('backup (flyctl double) speaks Chinese', () => {
  it('backup list with none, a schedule refusal, the progress steps, the result and the restore command in Chinese; --lang en in English', async () => {
    const d = await gatewayWithState(['--runtime', 'clawdbot']);
    live.push(d);
    const none = await d.cli(['backup', 'list'], ZH);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toBe('.clawdfly/backups 中没有 test-claw 的本地备份（创建一个：clawdfly backup）\n');
    const how = await d.cli(['backup', 'schedule'], ZH);
    expect(how.code).toBe(2);
    expect(how.stderr).toContain('✖ 请说明多久一次：--every <interval>，或者用 --off 停止');
    expect(how.stderr).toMatch(/→ clawdfly backup schedule .*--every 1h {2}（或者 --off）\n/);

    const zh = await d.cli(['backup', '--snapshot'], ZH);
    expect(zh.code, zh.stdout + zh.stderr).toBe(0);
    const text = zh.stdout + zh.stderr;
    expect(text).toMatch(/✔ 正在备份 test-claw 的 \/data（机器 \S+） \(\d+\.\ds\)/);
    expect(text).toMatch(/✔ 正在创建 Fly 数据卷快照 \(\d+\.\ds\)/);
    expect(text).toMatch(/✔ \S+\.tar\.gz：\d+ 个文件，\S+ \S+ → \S+ \S+，用时 \d+\.\d 秒，已按其清单校验/);
    expect(text).toMatch(/^ {2}未包含：tmp/m);
    expect(text).toMatch(/^ {2}vol_\S+ 的数据卷快照：已提交，还没有 id（running）$/m);
    expect(text).toMatch(/^ {2}恢复命令：clawdfly restore .*\S+\.tar\.gz$/m);

    const en = await d.cli(['backup', '--lang', 'en'], ZH);
    expect(en.code, en.stdout + en.stderr).toBe(0);
    const english = en.stdout + en.stderr;
    expect(english).toMatch(/✔ Backing up \/data of test-claw \(machine \S+\) \(\d+\.\ds\)/);
    expect(english).toMatch(/✔ \S+\.tar\.gz: \d+ files, \S+ \S+ → \S+ \S+ in \d+\.\d s, verified against its manifest/);
    expect(english).toMatch(/^ {2}left out: tmp/m);
    expect(english).toMatch(/^ {2}restore with: clawdfly restore .*\S+\.tar\.gz$/m);
    const list = await d.cli(['backup', 'list', '--lang', 'en'], ZH);
    expect(list.stdout).toMatch(/^\S+Z +\S+ \S+ +\S+\.tar\.gz\n/m);
    expect(english).not.toMatch(CJK);
  }, 240_000);
});
