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
  if (trimmed.length < MIN_SECRET_LENGTH) return;
  secrets.add(trimmed);
  // the same value as it appears inside a JSON string ("…\"…", "…\\…", "…\n…"): --json output and
  // JSON-escaped text are filtered too
  const escaped = JSON.stringify(trimmed).slice(1, -1);
  if (escaped !== trimmed) secrets.add(escaped);
  // a multi-line value: each line long enough to identify it is hidden on its own
  for (const line of trimmed.split(/\r?\n/)) if (line !== trimmed && line.trim().length >= MIN_SECRET_LENGTH) secrets.add(line.trim());
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
