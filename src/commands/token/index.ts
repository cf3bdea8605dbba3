/**
 * `clawdfly token`: the one command that prints a secret (stdout, nothing else on it, a warning on
 * stderr). `--rotate` makes a new one: saved to .clawdfly/secrets.env first (the source of truth),
 * staged with `secrets import --stage` on stdin, applied with ONE `machine update` (a plain restart
 * would not pick up staged secrets, flyctl.md §7).
 */
import type { CommandContext, CommandOptions } from '../types.js';
import type { tokenSpec } from './spec.js';
import { ClawdflyError, UsageError } from '../../errors.js';
import { flyFor, openProject } from '../../operate/context.js';
import { copyToClipboard } from '../../operate/desktop.js';
import { pickMachine } from '../../operate/machine.js';
import { generateGatewayToken, writeSecrets } from '../../project/secrets.js';
import { formatSecretsImport } from '../../fly/secrets-import.js';
import type { Project } from '../../project/project.js';
import { PROJECT_FILES } from '../../project/paths.js';
import { out } from '../../ui/output.js';
import { registerSecret } from '../../ui/redact.js';
import { confirmOrYes } from '../../ui/prompt.js';
import { recordAppliedSecrets } from '../../deploy/state.js';
import { stagedSecrets } from '../../deploy/preflight.js';

export async function run({ opts }: CommandContext<typeof tokenSpec>): Promise<number> {
  const project = await openProject(opts);
  const name = project.runtime.env.gatewayToken;
  let token = project.secrets[name];

  if (opts.rotate === true) {
    token = await rotate(project, opts);
  } else if (!token) {
    throw new UsageError(`no gateway token (${name}) in ${PROJECT_FILES.secrets}`, `copy ${PROJECT_FILES.secrets} from the computer that deployed (git ignores it, so a clone has none), or make a new one on purpose: clawdfly token --rotate`, 'no-token');
  }

  if (opts.copy === true) {
    const tool = await copyToClipboard(token);
    out.success(`Gateway token for ${project.app} copied to the clipboard (${tool}). Paste it in the Control UI settings; then: clawdfly devices approve --latest`);
    return 0;
  }
  out.warn(`the gateway token for ${project.app} follows on stdout. Treat it like a password: keep it out of chats, screenshots and shell history (clawdfly token --copy avoids the screen).`);
  out.raw(`${token}\n`, { unredacted: true });
  return 0;
}

async function rotate(project: Project, opts: CommandOptions<typeof tokenSpec>): Promise<string> {
  const name = project.runtime.env.gatewayToken;
  // Asked before any flyctl call: without a terminal, --yes is the only way to say yes.
  const confirmed = await confirmOrYes(`Rotate the gateway token of ${project.app}? The old token stops working and the gateway restarts`, {
    yes: opts.yes === true,
    defaultValue: false,
    flagHint: 'add --yes: clawdfly token --rotate --yes',
  });
  if (!confirmed) throw new UsageError('token not rotated', 'clawdfly token --rotate --yes', 'not-confirmed');
  const fly = flyFor(project, opts);
  // Before anything changes: the app must have a machine to apply the new token to.
  const { machine } = await pickMachine(fly, { machineId: opts.machine, started: false });
  // stdout carries only the token, so every other line of this command goes to stderr (out.warn).
  out.warn(`rotating the gateway token of ${project.app}: saving it, staging it on Fly, then one update of machine ${machine.id} (the gateway restarts)`);
  const fresh = generateGatewayToken();
  registerSecret(fresh);
  const secrets = { ...project.secrets, [name]: fresh };
  await writeSecrets(project.dir, secrets);
  try {
    await fly.importSecrets(formatSecretsImport({ [name]: fresh }), true);
    await fly.updateMachine(machine.id, {});
    // Applied: the next deploy must not stage it again or redeploy for it.
    await recordAppliedSecrets(project.dir, project.app, { [name]: fresh }, stagedSecrets(secrets));
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    throw new ClawdflyError(`the new token is saved in ${PROJECT_FILES.secrets} but was not applied on Fly: ${cause}`, {
      hint: 'clawdfly token --rotate  (again), or clawdfly deploy  (applies the saved token)',
      code: 'rotate-incomplete',
      evidence: error instanceof ClawdflyError ? error.evidence : [],
    });
  }
  out.warn(`rotated: the old token no longer works. Put the new one in the Control UI settings of every browser you use.`);
  return fresh;
}
