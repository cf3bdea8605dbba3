/**
 * `ssh console -C` is not run by a shell: the in-VM server splits it quote-aware (flyctl.md §2.11).
 * We build that one string from an argv array, quoting each word; pipes and redirects need an
 * explicit `sh -c <script>`.
 */
export function quoteWord(word: string): string {
  if (word !== '' && /^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'"'"'`)}'`;
}

export function remoteCommand(argv: string[]): string {
  return argv.map(quoteWord).join(' ');
}

/** A remote `sh -c` script as an argv. */
export function shScript(script: string): string[] {
  return ['sh', '-c', script];
}
