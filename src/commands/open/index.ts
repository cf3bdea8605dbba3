/**
 * `clawdfly open`: the Control UI is https://<app>.fly.dev/. Through Fly's proxy every browser is a
 * remote client to the gateway, so logging in is two steps: the token (Control UI settings), then
 * a one-time device approval (the socket closes with "1008 pairing required" until then).
 *
 * A private app has no public URL: open starts `fly proxy` to <app>.flycast on a fixed local port
 * (the same origin every time, so the browser keeps its token and its pairing), opens
 * http://127.0.0.1:<port>/ once it answers, and keeps the tunnel until Ctrl-C.
 */
import type { CommandContext, CommandOptions } from '../types.js';
import type { openSpec } from './spec.js';
import { flyFor, openProject } from '../../operate/context.js';
import { canOpenBrowser, openBrowser } from '../../operate/desktop.js';
import { openTunnel } from '../../operate/tunnel.js';
import { appUrl } from '../../project/network.js';
import { DEFAULT_GATEWAY_PORT } from '../../gateway/runtime.js';
import type { Project } from '../../project/project.js';
import { isClawdflyError, UsageError } from '../../errors.js';
import { isJsonMode, out } from '../../ui/output.js';
import { style } from '../../ui/style.js';

export const LOGIN_STEPS = [
  { step: 'token', text: 'Paste the gateway token into the Control UI settings', command: 'clawdfly token --copy' },
  { step: 'approve', text: 'Connect; the gateway answers "pairing required" for a new browser. Approve it (within 5 minutes)', command: 'clawdfly devices approve --latest' },
  { step: 'reload', text: 'Reload the page: this browser stays paired from now on', command: undefined },
];

/** The local end of the tunnel: the gateway's own default port, so the browser origin never changes. */
export const DEFAULT_TUNNEL_PORT = DEFAULT_GATEWAY_PORT;

function printLogin(url: string, opened: boolean): void {
  out.info(url);
  out.line();
  out.info(opened ? `Opened in your browser. To log in:` : 'To log in to the Control UI:');
  LOGIN_STEPS.forEach((s, i) => out.info(`  ${i + 1}. ${s.text}${s.command ? `:\n       ${style.cmd(s.command)}` : '.'}`));
}

export async function run({ opts }: CommandContext<typeof openSpec>): Promise<number> {
  const localPort = tunnelPort(opts.port);
  const project = await openProject(opts);
  const wantBrowser = opts.browser !== false && canOpenBrowser();
  if (project.exposure === 'private') return openPrivate(project, opts, localPort, wantBrowser);

  const url = appUrl(project.app);
  const opened = wantBrowser ? openBrowser(url) : false;
  if (isJsonMode()) {
    out.json({ ok: true, app: project.app, url, opened, login: LOGIN_STEPS });
    return 0;
  }
  printLogin(url, opened);
  return 0;
}

function tunnelPort(value: unknown): number {
  if (value === undefined) return DEFAULT_TUNNEL_PORT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new UsageError('--port takes a local port number (1-65535, or 0 for any free port)', `--port ${DEFAULT_TUNNEL_PORT}`, 'bad-port');
  }
  return value;
}

async function openPrivate(project: Project, opts: CommandOptions<typeof openSpec>, localPort: number, wantBrowser: boolean): Promise<number> {
  const fly = flyFor(project, opts);
  let interrupted = false;
  const onInt = () => (interrupted = true);
  process.on('SIGINT', onInt);
  try {
    if (!isJsonMode()) out.info(style.dim(`tunnel: ${project.app}.flycast → 127.0.0.1:${localPort} (fly proxy; the app has no public address)`));
    const tunnel = await openTunnel(fly, localPort).catch((error: unknown) => {
      if (interrupted && isClawdflyError(error)) return undefined;
      throw error;
    });
    if (!tunnel) return 130;
    const opened = wantBrowser ? openBrowser(tunnel.url) : false;
    if (isJsonMode()) {
      // One document as soon as the tunnel answers; the command then runs until Ctrl-C.
      out.json({ ok: true, app: project.app, url: tunnel.url, privateUrl: appUrl(project.app, 'private'), tunnel: { localPort: tunnel.localPort, argv: ['flyctl', ...tunnel.argv] }, opened, login: LOGIN_STEPS });
    } else {
      out.success(`tunnel open: ${tunnel.url} answers`);
      printLogin(tunnel.url, opened);
      out.line();
      out.info(style.dim('The tunnel stays open while this runs. Ctrl-C closes it.'));
    }
    const code = await tunnel.ended;
    if (!isJsonMode()) out.info(interrupted ? 'tunnel closed' : `fly proxy ended (exit ${code})`);
    return interrupted ? 0 : code;
  } finally {
    process.off('SIGINT', onInt);
  }
}
