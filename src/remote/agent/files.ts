/**
 * Reading the state dir without ever following a link: the walk uses lstat, files are opened with
 * O_NOFOLLOW, links and special files are reported (never read), names are never trusted.
 */
import * as fs from 'node:fs';
import { excludedTop } from './archive.js';

export interface Walked {
  path: string;
  st: fs.Stats;
}

export interface Skipped {
  path: string;
  reason: string;
  target?: string;
}

export interface Tree {
  dirs: Walked[];
  files: Walked[];
  skipped: Skipped[];
}

/** Every dir and regular file under `root` (lstat only), minus excluded top-level names. */
export function walk(root: string, excludes: string[]): Tree {
  const tree: Tree = { dirs: [], files: [], skipped: [] };
  const visit = (rel: string) => {
    const abs = rel ? `${root}/${rel}` : root;
    let names: string[];
    try {
      names = fs.readdirSync(abs);
    } catch (e) {
      tree.skipped.push({ path: rel || '.', reason: (e as NodeJS.ErrnoException).code ?? 'unreadable' });
      return;
    }
    names.sort();
    for (const name of names) {
      if (!rel && excludedTop(name, excludes)) continue;
      const path = rel ? `${rel}/${name}` : name;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(`${root}/${path}`);
      } catch {
        continue; // gone since readdir
      }
      if (st.isDirectory()) {
        tree.dirs.push({ path, st });
        visit(path);
      } else if (st.isFile()) tree.files.push({ path, st });
      else tree.skipped.push(st.isSymbolicLink() ? { path, reason: 'symlink', target: linkTarget(`${root}/${path}`) } : { path, reason: 'special file' });
    }
  };
  visit('');
  return tree;
}

/** Control characters shown as '?': a name or link target read on the volume may reach a terminal. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** What a link points at (read, never followed), for the manifest. */
function linkTarget(abs: string): string | undefined {
  try {
    return printable(fs.readlinkSync(abs)).slice(0, 4096);
  } catch {
    return undefined;
  }
}

export function sameStat(a: fs.Stats, b: fs.Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

export type Opened = { fd: number; st: fs.Stats; error?: undefined } | { error: string; gone: boolean };

/**
 * Opens a regular file without following a link. `{ error }` when it vanished (ENOENT), became a
 * link (ELOOP) or something else, or is not readable by us (EACCES: written there by root).
 */
export function openPlain(abs: string): Opened {
  let fd: number;
  try {
    fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | (fs.constants.O_NONBLOCK || 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { error: code === 'ELOOP' ? 'symlink' : code === 'EACCES' ? 'not readable by the owner of the state dir' : (code ?? 'unreadable'), gone: code === 'ENOENT' };
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    return { error: 'special file', gone: false };
  }
  return { fd, st };
}

export function readWhole(fd: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  let off = 0;
  while (off < size) {
    const n = fs.readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return off === size ? buf : buf.subarray(0, off);
}

/** The first `n` bytes of a regular file, opened without following a link (null when unreadable or shorter). */
export function headBytes(abs: string, n: number): Buffer | null {
  const opened = openPlain(abs);
  if (opened.error !== undefined) return null;
  try {
    if (opened.st.size < n) return null;
    const buf = Buffer.alloc(n);
    return fs.readSync(opened.fd, buf, 0, n, 0) === n ? buf : null;
  } finally {
    fs.closeSync(opened.fd);
  }
}
