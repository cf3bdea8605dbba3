/**
 * Read-only probes of the state dir: which paths match a few simple globs (`*` stands for one
 * name, never `/`, and does not match a leading dot, as in sh). Folders on the way must be real
 * folders: a link is never entered.
 */
import * as fs from 'node:fs';
import { printable } from './files.js';

function segmentRe(segment: string): RegExp {
  const body = segment
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]*');
  return new RegExp(`^${segment.startsWith('*') ? '(?!\\.)' : ''}${body}$`);
}

/** Paths under `root` (relative) that match any of `globs`, sorted, each once. */
export function findFiles(root: string, globs: string[]): { found: string[] } {
  const found = new Set<string>();
  for (const glob of globs) {
    const segments = glob.split('/').filter(Boolean);
    if (segments.some((s) => s === '..' || s === '.')) continue;
    let level = [''];
    segments.forEach((segment, i) => {
      const last = i === segments.length - 1;
      const re = segmentRe(segment);
      const next: string[] = [];
      for (const rel of level) {
        const dir = rel ? `${root}/${rel}` : root;
        if (!fs.lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
        let names: string[] = [];
        try {
          names = fs.readdirSync(dir);
        } catch {
          continue; // not readable by the owner
        }
        for (const name of names.filter((n) => re.test(n))) next.push(rel ? `${rel}/${name}` : name);
      }
      level = last ? next : next.filter((rel) => fs.lstatSync(`${root}/${rel}`, { throwIfNoEntry: false })?.isDirectory());
    });
    for (const rel of level) if (rel) found.add(printable(rel));
  }
  return { found: [...found].sort() };
}

/** clawdfly's own work folders on the state dir (restore's and upgrade's), by their mkdtemp names. */
export const LEFTOVER_NAME_RE = /^\.(?:(?:pre|failed)-restore-[0-9TZ]+-[A-Za-z0-9]+|clawdfly-(?:restore|staged-restore|pre-upgrade|post-upgrade)-[A-Za-z0-9]+)$/;

/** Removes the named leftovers: only real folders (never a link) with one of our names, straight under the state dir. */
export function removeLeftovers(root: string, names: string[]): { removed: string[]; skipped: string[] } {
  const removed: string[] = [];
  const skipped: string[] = [];
  for (const name of names) {
    if (LEFTOVER_NAME_RE.test(name) && fs.lstatSync(`${root}/${name}`, { throwIfNoEntry: false })?.isDirectory()) {
      fs.rmSync(`${root}/${name}`, { recursive: true, force: true });
      removed.push(name);
    } else skipped.push(printable(name));
  }
  return { removed, skipped };
}
