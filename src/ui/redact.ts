/**
 * One redaction filter for everything clawdfly prints (stdout, stderr, --verbose, errors, JSON).
 * Commands register every secret value of the project as soon as they know it; after that,
 * no byte that leaves the process can contain one.
 */
const secrets = new Set<string>();

/** Values shorter than this are not secrets worth hiding (and would mangle ordinary text). */
const MIN_SECRET_LENGTH = 6;

export function registerSecret(value: string | undefined | null): void {
  if (!value) return;
  const trimmed = value.trim();
  if (trimmed.length >= MIN_SECRET_LENGTH) secrets.add(trimmed);
}

export function registerSecrets(values: Iterable<string | undefined>): void {
  for (const value of values) registerSecret(value);
}

export function redact(text: string): string {
  if (secrets.size === 0 || text.length === 0) return text;
  let result = text;
  // Longest first, so a secret that contains another is hidden whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (result.includes(secret)) result = result.split(secret).join('***');
  }
  return result;
}

/** For tests. */
export function clearSecrets(): void {
  secrets.clear();
}
