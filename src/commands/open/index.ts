/**
 * `clawdfly open`: the Control UI is https://<app>.fly.dev/. Through Fly's proxy every browser is a
 * remote client to the gateway, so logging in is two steps: the token (Control UI settings), then
 * a one-time device approval (the socket closes with "1008 pairing required" until then).
 */
import type { CommandContext } from '../types.js';
import { appUrl, openProject } from '../../operate/context.js';
import { canOpenBrowser, openBrowser } from '../../operate/desktop.js';
import { isJsonMode, out } from '../../ui/output.js';
import { style } from '../../ui/style.js';

export const LOGIN_STEPS = [
  { step: 'token', text: 'Paste the gateway token into the Control UI settings', command: 'clawdfly token --copy' },
  { step: 'approve', text: 'Connect; the gateway answers "pairing required" for a new browser. Approve it (within 5 minutes)', command: 'clawdfly devices approve --latest' },
  { step: 'reload', text: 'Reload the page: this browser stays paired from now on', command: undefined },
];

export async function run({ opts }: CommandContext): Promise<number> {
  const project = await openProject(opts);
  const url = appUrl(project.app);
  const wantBrowser = opts['browser'] !== false && canOpenBrowser();
  const opened = wantBrowser ? openBrowser(url) : false;

  if (isJsonMode()) {
    out.json({ ok: true, app: project.app, url, opened, login: LOGIN_STEPS });
    return 0;
  }
  out.info(url);
  out.line();
  out.info(opened ? `Opened in your browser. To log in:` : 'To log in to the Control UI:');
  LOGIN_STEPS.forEach((s, i) => out.info(`  ${i + 1}. ${s.text}${s.command ? `:\n       ${style.cmd(s.command)}` : '.'}`));
  return 0;
}
