/**
 * `clawdfly channels login <channel>`: the channel's own login, run on the machine.
 * - whatsapp: the gateway's `channels login --channel whatsapp` over `ssh console --pty` (a QR code
 *   in this terminal), as the gateway's user so the session files on the volume stay readable by it.
 * - signal: `signal-cli link` (Signal image variant, init --signal) with its data on the volume.
 * - telegram / discord: no interactive login — the gateway logs in with the bot token secret; we check it is set.
 */
import type { CommandContext, CommandOptions } from '../types.js';
import type { channelsLoginSpec } from './spec.js';
import { ClawdflyError, UsageError } from '../../errors.js';
import { FlyAppNotFoundError } from '../../fly/errors.js';
import { CHANNEL_TOKENS, gatewayCli, GATEWAY_USER, SIGNAL_CLI_PATH, SIGNAL_DATA_SUBDIR, type TokenChannel } from '../../gateway/runtime.js';
import { flyFor, openProject } from '../../operate/context.js';
import { pickMachine } from '../../operate/machine.js';
import { RECOMMENDED_MEMORY_MB } from '../../project/answers.js';
import type { Project } from '../../project/project.js';
import { PROJECT_FILES } from '../../project/paths.js';
import { isJsonMode, out } from '../../ui/output.js';
import { style } from '../../ui/style.js';

const CHANNELS = ['whatsapp', 'signal', 'telegram', 'discord'] as const;
type Channel = (typeof CHANNELS)[number];

/** A WhatsApp QR code drawn with half blocks needs about this many columns. */
export const QR_MIN_COLUMNS = 60;
/** WhatsApp replaces the QR code about this often. */
export const QR_LIFETIME_SECONDS = 20;

export async function run({ args, opts }: CommandContext<typeof channelsLoginSpec>): Promise<number> {
  const channel = (args[0] ?? '').toLowerCase() as Channel;
  if (!CHANNELS.includes(channel)) throw new UsageError(`unknown channel "${args[0] ?? ''}"`, `clawdfly channels login <${CHANNELS.join('|')}>`, 'bad-channel');
  const project = await openProject(opts);
  if (channel === 'telegram' || channel === 'discord') return tokenChannel(project, channel, opts);
  if (isJsonMode()) throw new UsageError(`the ${channel} login is interactive and prints no JSON`, `clawdfly channels login ${channel}  (without --json)`, 'bad-flags');
  if (channel === 'signal') return signal(project, opts);
  return whatsapp(project, opts);
}

async function whatsapp(project: Project, opts: CommandOptions<typeof channelsLoginSpec>): Promise<number> {
  const columns = process.stdout.isTTY ? process.stdout.columns : undefined;
  if (columns === undefined) out.warn('this is not a terminal: the QR code will not be scannable from here. Run it in a terminal window.');
  else if (columns < QR_MIN_COLUMNS) out.warn(`the terminal is ${columns} columns wide; the QR code needs about ${QR_MIN_COLUMNS}. Widen the window (or zoom out) now.`);
  out.warn(`the QR code is replaced about every ${QR_LIFETIME_SECONDS} s: open WhatsApp → Settings → Linked devices → Link a device before it appears.`);

  const fly = flyFor(project, opts);
  await fly.ensureVersion();
  const { machine } = await pickMachine(fly, { machineId: opts.machine });
  const command = gatewayCli(project.runtime, ['channels', 'login', '--channel', 'whatsapp']);
  const code = await fly.sshInteractive({ machineId: machine.id, command, pty: true, user: GATEWAY_USER });
  if (code !== 0) {
    throw new ClawdflyError(`the WhatsApp login on machine ${machine.id} did not finish (flyctl exit ${code})`, {
      hint: `clawdfly channels login whatsapp  (again: a QR code expires after ~${QR_LIFETIME_SECONDS} s); clawdfly logs shows the gateway side`,
      code: 'login-failed',
    });
  }
  out.success('WhatsApp is linked; the session is stored on the volume.');
  out.info(`Check the connection: ${style.cmd('clawdfly logs --since 5m')}  (if it does not connect: fly machine restart ${machine.id} -a ${project.app})`);
  return 0;
}

async function signal(project: Project, opts: CommandOptions<typeof channelsLoginSpec>): Promise<number> {
  if (project.answers?.signal !== true) {
    throw new UsageError(`this project's image has no signal-cli (Java + signal-cli are only in the Signal variant)`, 'clawdfly init --signal  (then clawdfly deploy)', 'no-signal-image');
  }
  const fly = flyFor(project, opts);
  await fly.ensureVersion();
  const { machine } = await pickMachine(fly, { machineId: opts.machine });
  const memory = machine.config?.guest?.memory_mb;
  if (memory !== undefined && memory < RECOMMENDED_MEMORY_MB) out.warn(`the machine has ${memory} MB; Java + signal-cli + the gateway need ${RECOMMENDED_MEMORY_MB} MB or more`);
  out.warn('signal-cli prints a sgnl://linkdevice?… link. Make it a QR code on this computer (e.g. qrencode -t ansiutf8 \'<link>\') and scan it in Signal → Settings → Linked devices. The link is single-use: do not share it.');
  const command = [SIGNAL_CLI_PATH, '--config', `${project.stateDir}/${SIGNAL_DATA_SUBDIR}`, 'link', '-n', project.app];
  const code = await fly.sshInteractive({ machineId: machine.id, command, pty: true, user: GATEWAY_USER });
  if (code !== 0) {
    throw new ClawdflyError(`signal-cli link on machine ${machine.id} did not finish (flyctl exit ${code})`, { hint: 'clawdfly channels login signal  (again)', code: 'login-failed' });
  }
  out.success('Signal is linked.');
  out.info(`Next: set channels.signal.account to the bot's number in ${project.runtime.configFileName}, push the config, and check ${style.cmd('clawdfly logs --since 5m')}`);
  return 0;
}

async function tokenChannel(project: Project, channel: TokenChannel, opts: CommandOptions<typeof channelsLoginSpec>): Promise<number> {
  const name = CHANNEL_TOKENS[channel];
  const local = Boolean(project.secrets[name]);
  let remote: boolean | null = null;
  try {
    remote = (await flyFor(project, opts).listSecrets()).some((s) => s.name === name);
  } catch (error) {
    if (!(error instanceof FlyAppNotFoundError)) throw error;
  }
  const ok = local && remote === true;
  if (isJsonMode()) {
    out.json({ ok, channel, interactive: false, secret: name, local, remote });
    return ok ? 0 : 1;
  }
  const title = channel === 'discord' ? 'Discord' : 'Telegram';
  out.info(`${title} has no interactive login: the gateway logs in with the bot token from the ${name} secret.`);
  if (ok) {
    out.success(`${name} is set (in ${PROJECT_FILES.secrets} and on Fly).`);
    out.info(`Check the connection: ${style.cmd('clawdfly logs --since 10m')}  (look for "[${channel}] logged in")`);
    return 0;
  }
  if (local) {
    out.warn(`${name} is in ${PROJECT_FILES.secrets} but not on Fly${remote === null ? ` (app ${project.app} does not exist yet)` : ''}`);
    out.info(`Apply it: ${style.cmd('clawdfly deploy')}`);
    return 1;
  }
  throw new ClawdflyError(`${name} is not set${remote ? ` locally (it is on Fly, but ${PROJECT_FILES.secrets} does not have it)` : ''}`, {
    hint: `clawdfly init --${channel}  (asks for the token without echoing it; or --yes --secrets-stdin with a ${name}=… line), then clawdfly deploy`,
    code: 'channel-token-missing',
  });
}
