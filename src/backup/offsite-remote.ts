/**
 * The off-site copies as the machine sees them: listed and fetched by the image's uploader over
 * `fly ssh console` (the bucket's credentials and the key are the app's secrets, on the machine).
 * A fetched copy comes to this computer as a plain archive, 0600, into .clawdfly/backups, where
 * `restore` verifies it like any other.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ClawdflyError } from '../errors.js';
import type { FlyClient } from '../fly/client.js';
import { FlyRemoteExitError } from '../fly/errors.js';
import type { Machine } from '../fly/json.js';
import type { Project } from '../project/project.js';
import { untrusted } from '../ui/output.js';
import { backupsDir } from './archive.js';
import { fetchCommand, listCommand, NO_UPLOADER_STATUS, OFFSITE_SCRIPT, type RemoteCopy } from './offsite.js';

const IDLE_TIMEOUT_MS = Number(process.env['CLAWDFLY_TRANSFER_IDLE_MS'] || 120_000);

function uploaderFailure(error: unknown, project: Project, what: string): unknown {
  if (!(error instanceof FlyRemoteExitError)) return error;
  if (error.remoteStatus === NO_UPLOADER_STATUS) {
    return new ClawdflyError(`the machine's image has no off-site uploader (${OFFSITE_SCRIPT}): it was built before backup schedule`, { hint: 'clawdfly deploy  (builds the image again from the project files)', code: 'no-uploader' });
  }
  const said = error.stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !/Process exited with status|^Error: ssh shell/.test(l)).slice(-2).map(untrusted).join(' ');
  // a key or credentials staged by `backup schedule` reach the machine with the next deploy
  const notDeployed = /not set on the machine/.test(error.stderr);
  return new ClawdflyError(`${what} failed on ${project.app}'s machine (exit ${error.remoteStatus})${said ? `: ${said}` : ''}`, {
    hint: notDeployed ? 'clawdfly deploy  (applies the staged key and the schedule to the machine)' : 'clawdfly doctor  (shows the uploader\'s last error)',
    code: notDeployed ? 'offsite-not-deployed' : 'offsite-failed',
  });
}


const RemoteCopySchema = z.object({ name: z.string().min(1), size: z.number().nonnegative(), time: z.string() }).loose();

/** Newest first, as the uploader lists them. */
export async function listRemoteCopies(project: Project, fly: FlyClient, machine: Machine): Promise<RemoteCopy[]> {
  let stdout: string;
  try {
    stdout = await fly.ssh(listCommand(project), { machineId: machine.id });
  } catch (error) {
    throw uploaderFailure(error, project, 'listing the off-site copies');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.trim() || '[]');
  } catch {
    throw new ClawdflyError(`the machine's uploader did not answer with a JSON list (${untrusted(stdout.trim().slice(0, 80))})`, { hint: 'clawdfly deploy  (the image and clawdfly may be of different versions)', code: 'offsite-bad-answer' });
  }
  const copies = z.array(RemoteCopySchema).safeParse(parsed);
  if (!copies.success) throw new ClawdflyError('the machine\'s uploader listed the copies in a shape clawdfly does not know', { hint: 'clawdfly deploy  (the image and clawdfly may be of different versions)', code: 'offsite-bad-answer' });
  return [...copies.data].sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
}

/** The copy decrypted on the machine and streamed here: `.clawdfly/backups/<app>-offsite-<stamp>.tar.gz` (0600). */
export async function fetchRemoteCopy(project: Project, fly: FlyClient, machine: Machine, name: string, onBytes?: (n: number) => void): Promise<string> {
  const dir = backupsDir(project.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const stamp = /(\d{8}T\d{6}Z)/.exec(name)?.[1] ?? randomBytes(4).toString('hex');
  const file = join(dir, `${project.app}-offsite-${stamp}-${randomBytes(3).toString('hex')}.tar.gz`);
  const partial = `${file}.partial`;
  const sink = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
  await new Promise<void>((resolve, reject) => sink.once('open', () => resolve()).once('error', reject));
  try {
    let result;
    try {
      result = await fly.sshTransfer(fetchCommand(project, name), { machineId: machine.id, stdout: sink, idleTimeoutMs: IDLE_TIMEOUT_MS, onStdoutBytes: onBytes });
    } catch (error) {
      throw uploaderFailure(error, project, `fetching the off-site copy ${untrusted(name)}`);
    }
    if (result.sinkError) throw new ClawdflyError(`writing ${partial} failed: ${result.sinkError.message}`, { code: 'local-write-failed' });
    await new Promise<void>((resolve) => (sink.writableFinished ? resolve() : sink.once('finish', () => resolve())));
    await chmod(partial, 0o600);
    await rename(partial, file);
    return file;
  } catch (error) {
    sink.destroy();
    await rm(partial, { force: true });
    throw error;
  }
}
