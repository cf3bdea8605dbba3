/** `clawdfly config diff`: local vs remote the gateway config file, semantically. Exit 0 equal, 1 different. */
import { configsEquivalent, readRemoteConfig } from '../../remote/config-transfer.js';
import { isJsonMode, out } from '../../ui/output.js';
import type { CommandContext } from '../types.js';
import type { configDiffSpec } from './spec.js';
import { connect, localConfigText, localLabel, openProject, printDiff, semanticDiff } from './shared.js';

export async function run({ opts }: CommandContext<typeof configDiffSpec>): Promise<number> {
  const project = await openProject(opts);
  const localText = localConfigText(project);
  const { fly, machine } = await connect(opts, project);
  const label = localLabel(project);
  const target = `${project.remoteConfigPath} on ${machine.id}`;
  const remoteText = await readRemoteConfig(fly, project, machine.id);
  const equal = remoteText !== undefined && configsEquivalent(localText, remoteText);
  const diff = equal ? '' : semanticDiff(remoteText, localText, { from: `${machine.id}:${project.remoteConfigPath}`, to: label });
  if (isJsonMode()) {
    // `ok`: the command ran (exit 1 only says "different"), like every other --json document.
    out.json({ ok: true, equal, machine: machine.id, path: project.remoteConfigPath, remoteExists: remoteText !== undefined, diff });
  } else if (equal) {
    out.success(`in sync: ${label} = ${target} (key order, whitespace and the gateway's own additions ignored)`);
  } else {
    if (remoteText === undefined) out.warn(`there is no ${target}`);
    printDiff(diff);
    out.info(`  '-' = only on the machine, '+' = only in ${label}; clawdfly config push sends yours, clawdfly config pull takes theirs`);
  }
  void fly;
  return equal ? 0 : 1;
}
