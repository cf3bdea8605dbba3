/**
 * .clawdfly/secrets.env: the only file that holds secret values (mode 0600, git-ignored,
 * docker-ignored). `NAME=VALUE` lines, values double-quoted so `secrets import` reads them
 * back exactly (flyctl strips an unquoted `#…` as a comment).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_FILES } from './paths.js';
import { writeFileAtomic } from '../util/fs.js';
import { registerSecrets } from '../ui/redact.js';
import { ClawdflyError, UsageError } from '../errors.js';

export type Secrets = Record<string, string>;

/**
 * Lines of secrets.env that are settings, not secrets: where the off-site bucket is (`fly storage
 * create` sets them as Fly secrets beside its keys). They are not hidden in output (a bucket's name
 * is not a credential, and `***` in its place would hide what a message is about).
 */
export const NOT_SECRET_NAMES: ReadonlySet<string> = new Set(['BUCKET_NAME', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION']);

/** 32 bytes from the CSPRNG as 64 hex characters, like `openssl rand -hex 32`. */
export function generateGatewayToken(): string {
  return randomBytes(32).toString('hex');
}

/** A line of `.clawdfly/secrets.env` that cannot be read: which line, never its value. */
export class SecretsFileError extends ClawdflyError {}

export function parseSecretsEnv(text: string, file = PROJECT_FILES.secrets): Secrets {
  const secrets: Secrets = {};
  const lines = text.split(/\r?\n/);
  for (const [index, rawLine] of lines.entries()) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const bad = (why: string) =>
      new SecretsFileError(`${file}:${index + 1}: ${why}`, {
        hint: `fix that line by hand (NAME="value", the value JSON-quoted), or re-enter the key: clawdfly init --secrets-stdin`,
        code: 'secrets-file-invalid',
      });
    if (eq <= 0) throw bad('not a NAME=value line');
    const name = line.slice(0, eq).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw bad('the name before = is not a variable name');
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        throw bad('the quoted value is not valid (inside "…", a backslash must be doubled: \\\\)');
      }
    } else if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) value = value.slice(1, -1);
    secrets[name] = value;
  }
  return secrets;
}

/** A name deploy stages as a Fly secret (and --secrets-stdin accepts). */
export const SECRET_NAME_RE = /^[A-Z_][A-Z0-9_]*$/;
const INPUT_HINT = 'one NAME=VALUE per line, e.g. ANTHROPIC_API_KEY=sk-…; quote a value with "…" or \'…\' (taken literally)';

/**
 * `NAME=VALUE` lines a person typed or piped in (`--secrets-stdin`). Strict, because a key that is
 * silently cut or changed fails much later, on Fly, with a confusing provider error: every line
 * is a comment, blank, or one complete assignment, else the whole input is refused with its line
 * number. Quotes are stripped and nothing inside them is unescaped (`"a\nb"` stays four characters).
 */
export function parseSecretsInput(text: string, source: string): Secrets {
  const secrets: Secrets = {};
  const seenAt = new Map<string, number>();
  const refuse = (n: number, why: string): never => {
    throw new UsageError(`${source}: line ${n} ${why}`, INPUT_HINT, 'bad-secret');
  };
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const n = index + 1;
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq < 0) refuse(n, 'is not NAME=VALUE (a value must stay on one line)');
    const name = line.slice(0, eq).trim();
    if (!SECRET_NAME_RE.test(name)) refuse(n, `"${name}" is not a valid variable name`);
    let value = line.slice(eq + 1).trim();
    const quote = value[0];
    if (quote === '"' || quote === "'") {
      if (value.length < 2 || !value.endsWith(quote)) refuse(n, `${name}: the ${quote} quote is not closed on this line`);
      value = value.slice(1, -1);
    }
    if (value === '') refuse(n, `${name} has no value (leave the line out to keep the current one)`);
    if (seenAt.has(name)) refuse(n, `${name} is given twice (also on line ${seenAt.get(name)})`);
    seenAt.set(name, n);
    secrets[name] = value;
  });
  return secrets;
}

export function formatSecretsEnv(secrets: Secrets): string {
  const header = '# Written by clawdfly. Secret values: never commit this file (it is git-ignored and docker-ignored).\n';
  const lines = Object.entries(secrets)
    .filter(([, value]) => value !== '')
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  return header + lines.join('\n') + '\n';
}

export async function readSecrets(dir: string): Promise<Secrets> {
  try {
    const secrets = parseSecretsEnv(await readFile(join(dir, PROJECT_FILES.secrets), 'utf8'));
    registerSecrets(Object.entries(secrets).flatMap(([name, value]) => (NOT_SECRET_NAMES.has(name) ? [] : [value])));
    return secrets;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
}

/** Written atomically with mode 0600 from the first byte. */
export async function writeSecrets(dir: string, secrets: Secrets): Promise<void> {
  await writeFileAtomic(join(dir, PROJECT_FILES.secrets), formatSecretsEnv(secrets), 0o600);
}

/**
 * The gateway token under another runtime's name (one row's env.gatewayToken → the other's
 * and back): the same value, so browsers paired with the gateway keep working. The line keeps its
 * place in the file. Returns the secrets as written (unchanged when the names are the same).
 */
export function renameGatewayToken(secrets: Secrets, fromName: string, toName: string): Secrets {
  if (fromName === toName || secrets[fromName] === undefined) return secrets;
  const value = secrets[fromName]!;
  const renamed: Secrets = {};
  for (const [name, v] of Object.entries(secrets)) {
    if (name === fromName) renamed[toName] = value;
    else if (name !== toName) renamed[name] = v;
  }
  return renamed;
}
