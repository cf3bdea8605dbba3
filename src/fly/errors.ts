/**
 * flyctl's failures, classified by the stable substrings of its error text (flyctl.md §2, §8.1)
 * into typed errors that carry the next step. Secret values never reach these messages: stderr
 * is redacted when printed, and secrets are never on flyctl's argv in the first place.
 */
import { ClawdflyError } from '../errors.js';

export class FlyError extends ClawdflyError {
  constructor(
    message: string,
    hint: string | undefined,
    code: string,
    readonly stderr = '',
  ) {
    super(message, { hint, code, exitCode: 1 });
  }
}

export class FlyctlMissingError extends FlyError {}
export class FlyctlTooOldError extends FlyError {}
export class FlyAuthError extends FlyError {}
export class FlyAppNotFoundError extends FlyError {}
/** A taken app name is refused input (exit 2): nothing was created, and another name fixes it. */
export class FlyNameTakenError extends FlyError {
  override readonly exitCode = 2 as const;
}
export class FlyRegionError extends FlyError {}
export class FlyVolumeError extends FlyError {}
export class FlyMemoryError extends FlyError {}
export class FlyNoMachineError extends FlyError {}
export class FlyTimeoutError extends FlyError {}
/** `fly deploy --image <ref>`: the registry no longer has it (Fly prunes images not deployed for a while). */
export class FlyImageNotFoundError extends FlyError {}
export class FlyCommandError extends FlyError {
  constructor(
    message: string,
    hint: string | undefined,
    stderr: string,
    readonly exitCode_: number,
  ) {
    super(message, hint, 'flyctl-failed', stderr);
  }
}
/** `ssh console -C` ran, and the remote command exited non-zero. */
export class FlyRemoteExitError extends FlyError {
  constructor(
    readonly remoteStatus: number,
    readonly command: string,
    stderr: string,
  ) {
    super(`remote command exited with status ${remoteStatus}: ${command}`, undefined, 'remote-exit', stderr);
  }
}

/** The `Error: …` line(s) flyctl printed, without request ids. */
export function errorText(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const errorLines = lines.filter((l) => l.startsWith('Error:'));
  const text = (errorLines.length > 0 ? errorLines : lines.slice(-3)).join(' ');
  return text.replace(/^Error:\s*/, '').replace(/\s*\((?:Request|Trace) ID: [^)]*\)/g, '').trim();
}

export function classifyFlyError(stderr: string, exitCode: number, context: { app?: string; command: string }): FlyError {
  const text = errorText(stderr) || `flyctl ${context.command} exited with code ${exitCode}`;
  const app = context.app ?? 'the app';
  if (/no access token available|You must be authenticated|Not authenticated|failed retrieving current user/.test(stderr)) {
    return new FlyAuthError(`not logged in to Fly.io (${text})`, 'fly auth login  (or set FLY_API_TOKEN)', 'not-logged-in', stderr);
  }
  if (/Name has already been taken/.test(stderr)) {
    return new FlyNameTakenError(
      `the app name "${app}" is taken (Fly app names are global across all organizations)`,
      `pick another name: clawdfly init --app ${app}-${Math.random().toString(36).slice(2, 6)} (then deploy again)`,
      'name-taken',
      stderr,
    );
  }
  const missingImage = /could not find image "([^"]+)"/.exec(stderr);
  if (missingImage) {
    return new FlyImageNotFoundError(`the image ${missingImage[1]} no longer exists in Fly's registry (Fly prunes images that are not deployed for a while)`, 'clawdfly deploy  (builds the image again from the project files)', 'image-not-found', stderr);
  }
  if (/Could not find App|app not found|could not be found, did you create the app/.test(stderr)) {
    return new FlyAppNotFoundError(`app "${app}" does not exist on Fly.io (or this account cannot see it)`, 'clawdfly deploy  (creates it)', 'app-not-found', stderr);
  }
  if (/region \S+ not found|region code must be specified|requires an organization with a Launch plan/.test(stderr)) {
    return new FlyRegionError(text, 'pick a region from `fly platform regions`, then clawdfly init --region <code>', 'bad-region', stderr);
  }
  if (/needs an unattached volume|needs volumes with name|requires an unattached|insufficient resources to create new machine with existing volume/.test(stderr)) {
    return new FlyVolumeError(text, 'clawdfly doctor  (the volume must be unattached and in primary_region)', 'volume', stderr);
  }
  if (/memory size for config is too (low|high)|invalid memory size|invalid number of CPUs/.test(stderr)) {
    return new FlyMemoryError(text, 'fix [[vm]] in fly.toml (shared CPUs: a multiple of 256 MB, 256–2048 MB per CPU)', 'bad-memory', stderr);
  }
  if (/has no started VMs|not found\/started/.test(stderr)) {
    return new FlyNoMachineError(`no started machine in ${app}`, 'clawdfly status  (then clawdfly doctor)', 'no-started-machine', stderr);
  }
  return new FlyCommandError(`flyctl ${context.command} failed: ${text}`, 'run again with --verbose to see the flyctl call', stderr, exitCode);
}
