/** `clawdfly config pull`: the machine's the gateway config file (with the gateway's own additions) → the local file. */
import { stat } from 'node:fs/promises';
import { ClawdflyError } from '../../errors.js';
import { checkConfigText, formatProblem } from '../../gateway/config-file.js';
import { configsEquivalent, readRemoteConfig } from '../../remote/config-transfer.js';
import { unifiedDiff } from '../../util/diff.js';
import { writeFileAtomic } from '../../util/fs.js';
import { literalSecretPaths } from '../../gateway/config-file.js';
import { isJsonMode, out, untrusted } from '../../ui/output.js';
import { confirmOrYes } from '../../ui/prompt.js';
import { style } from '../../ui/style.js';
import type { CommandContext } from '../types.js';
import type { configPullSpec } from './spec.js';
import { connect, localLabel, printDiff } from './shared.js';

export async function run({ opts }: CommandContext<typeof configPullSpec>): Promise<number> {
  const yes = opts.yes === true;
  const { project, fly, machine } = await connect(opts);
  const label = localLabel(project);
  const target = `${project.remoteConfigPath} on ${machine.id}`;
  const remoteText = await readRemoteConfig(fly, project, machine.id);
  if (remoteText === undefined) {
    throw new ClawdflyError(`there is no ${target}`, { hint: 'clawdfly config push  (sends the local file)', code: 'no-remote-config' });
  }
  const localText = project.configText;
  if (localText === remoteText) {
    if (isJsonMode()) out.json({ ok: true, machine: machine.id, path: project.configPath, changed: false });
    else out.success(`${label} is already identical to ${target}`);
    return 0;
  }
  const equivalent = localText !== undefined && configsEquivalent(localText, remoteText);
  if (!isJsonMode()) {
    printDiff(unifiedDiff(localText ?? '', remoteText, { from: label, to: `${machine.id}:${project.remoteConfigPath}` }));
    if (equivalent) out.info(style.dim('  (same settings; the machine\'s copy only adds what the gateway writes itself: meta, defaults)'));
    const check = checkConfigText(remoteText, project.runtime);
    if (!check.ok) {
      out.warn(`the machine's file does not pass clawdfly's schema check (${check.problems.length} problem(s)):`);
      for (const p of check.problems) out.warn(`  ${untrusted(formatProblem(p, project.remoteConfigPath))}`);
    }
  }
  if (!(await confirmOrYes(`Overwrite ${label} with ${target}?`, { yes, flagHint: 'add --yes' }))) {
    out.warn('cancelled; nothing was written');
    return 1;
  }
  // 0600 like the machine's own copy: the gateway stores tokens set in the Control UI in it
  await writeFileAtomic(project.configPath, remoteText, 0o600);
  const literal = literalSecretPaths(remoteText);
  if (isJsonMode()) out.json({ ok: true, machine: machine.id, path: project.configPath, changed: true, bytes: Buffer.byteLength(remoteText), literalSecrets: literal });
  else out.success(`wrote ${label} (${Buffer.byteLength(remoteText)} bytes from ${target}, mode 0600)`);
  if (literal.length) {
    out.warn(`${label} now holds literal secret values at ${literal.join(', ')}: it is not git-ignored and goes into the image.`);
    out.warn('  replace each with "${VAR}" (the gateway substitutes environment variables) and set the value with: clawdfly init --secrets-stdin');
  }
  return 0;
}
