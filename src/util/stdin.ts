import { UsageError } from '../errors.js';

/** Reads all of stdin; refuses a terminal (the user meant to pipe something in). */
export async function readStdinText(flag: string): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError(`${flag} reads from stdin, but stdin is a terminal`, `pipe the lines in: clawdfly … ${flag} < secrets.txt`, 'stdin-is-tty');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
