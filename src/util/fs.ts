import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ClawdflyError } from '../errors.js';

export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Write via a temp file and rename, so a crash or a full disk never leaves half a file (nor the temp file). */
export async function writeFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true }).catch((error) => {
    throw localWriteError(error, path);
  });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, content, { mode, flag: 'wx' });
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => {});
    throw localWriteError(error, path);
  }
}

/** Error codes that mean "no room left on this computer's disk". */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

export function isDiskFull(error: unknown): boolean {
  return DISK_FULL_CODES.has((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/** A full disk in one line (exit 1); any other error unchanged. */
export function localWriteError(error: unknown, path: string): unknown {
  if (!isDiskFull(error)) return error;
  return new ClawdflyError(`the local disk is full: ${path} could not be written`, { hint: 'free some space on that disk, then run the command again', code: 'local-disk-full' });
}
