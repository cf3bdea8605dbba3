/**
 * The user's own desktop: opening a browser and the clipboard. Never used in CI or without a
 * terminal; values go to the clipboard tool on stdin, never on its argv.
 */
import { findOnPath, spawnProcess } from '../util/process.js';
import { ClawdflyError } from '../errors.js';

const isCi = () => process.env['CI'] === 'true' || process.env['CI'] === '1';
const hasDisplay = () => process.platform === 'darwin' || !!process.env['DISPLAY'] || !!process.env['WAYLAND_DISPLAY'];

/** A browser can be opened: a person at a terminal on a desktop (macOS, X11 or Wayland), not CI. */
export function canOpenBrowser(): boolean {
  return process.stdout.isTTY === true && !isCi() && hasDisplay();
}

/** Opens the URL in the default browser, detached. Returns false when no opener was found. */
export function openBrowser(url: string): boolean {
  const opener = process.platform === 'darwin' ? findOnPath('open') : findOnPath('xdg-open');
  if (!opener) return false;
  const child = spawnProcess(opener, [url], { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
  return true;
}

interface ClipboardTool {
  name: string;
  path: string;
  args: string[];
}

/** pbcopy (macOS), wl-copy (Wayland), xclip / xsel (X11) — the first one present for this session. */
export function findClipboard(): ClipboardTool | undefined {
  const candidates: { name: string; args: string[]; when: boolean }[] = [
    { name: 'pbcopy', args: [], when: process.platform === 'darwin' },
    { name: 'wl-copy', args: [], when: !!process.env['WAYLAND_DISPLAY'] },
    { name: 'xclip', args: ['-selection', 'clipboard'], when: !!process.env['DISPLAY'] },
    { name: 'xsel', args: ['--clipboard', '--input'], when: !!process.env['DISPLAY'] },
  ];
  for (const c of candidates) {
    if (!c.when) continue;
    const path = findOnPath(c.name);
    if (path) return { name: c.name, path, args: c.args };
  }
  return undefined;
}

/** Puts text on the clipboard (through the tool's stdin). Returns the tool's name. */
export async function copyToClipboard(text: string): Promise<string> {
  const tool = findClipboard();
  if (!tool) {
    throw new ClawdflyError('no clipboard tool found for this session (looked for pbcopy, wl-copy with WAYLAND_DISPLAY, xclip/xsel with DISPLAY)', {
      hint: 'run `clawdfly token` (without --copy) and copy it by hand, or install wl-clipboard / xclip',
      code: 'no-clipboard',
    });
  }
  await new Promise<void>((resolve, reject) => {
    // xclip keeps running to serve the selection: it must not hold our stdout/stderr open.
    // (xclip/xsel serve the selection until another copy replaces it: no timeout for them.)
    const serves = tool.name === 'xclip' || tool.name === 'xsel';
    const child = spawnProcess(tool.path, tool.args, { stdio: ['pipe', 'ignore', 'ignore'], detached: serves, timeoutMs: serves ? undefined : 30_000 });
    child.on('error', (error) => reject(new ClawdflyError(`${tool.name} failed: ${error.message}`, { code: 'clipboard-failed' })));
    child.on('spawn', () => {
      child.stdin!.end(text, () => {
        if (tool.name === 'xclip' || tool.name === 'xsel') {
          child.unref();
          resolve();
        }
      });
    });
    child.on('close', (code) => {
      if (code === 0 || code === null) resolve();
      else reject(new ClawdflyError(`${tool.name} exited with code ${code}`, { code: 'clipboard-failed', hint: 'run `clawdfly token` and copy it by hand' }));
    });
  });
  return tool.name;
}
