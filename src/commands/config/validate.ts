/** `clawdfly config validate [file]`: the gateway's schema, locally, with line numbers. */
import { isAbsolute, join, relative, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { checkConfigText, formatProblem } from '../../gateway/config-file.js';
import { DEFAULT_RUNTIME_ID, findRuntime } from '../../gateway/runtime.js';
import { readAnswers } from '../../project/project.js';
import { readTextIfExists } from '../../util/fs.js';
import { isJsonMode, out } from '../../ui/output.js';
import type { CommandContext } from '../types.js';
import { str } from './shared.js';

export const JSON5_NOTE = 'JSON5 (comments, trailing commas or unquoted keys): the gateway accepts it, and rewrites it as plain JSON the next time it saves the file';

export async function run({ args, opts }: CommandContext): Promise<number> {
  const dir = resolve(str(opts['dir']) ?? '.');
  let file: string;
  if (args[0]) {
    file = resolve(args[0]);
  } else {
    const answers = await readAnswers(dir).catch(() => undefined);
    const runtime = findRuntime(answers?.runtime ?? DEFAULT_RUNTIME_ID) ?? findRuntime(DEFAULT_RUNTIME_ID)!;
    file = join(dir, runtime.configFileName);
  }
  const rel = relative(process.cwd(), file);
  const label = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
  const text = await readTextIfExists(file);
  if (text === undefined) throw new UsageError(`no config file at ${label}`, 'clawdfly config validate <file>  (or --dir <project>)', 'no-local-config');

  const check = checkConfigText(text);
  const problems = check.problems.map((p) => ({ path: p.path, message: p.message, line: p.line, text: formatProblem(p, label) }));
  if (isJsonMode()) {
    out.json({ ok: check.ok, file, json5: check.json5, problems });
    return check.ok ? 0 : 1;
  }
  if (check.ok) {
    out.success(`${label} is valid${check.json5 ? ' (JSON5)' : ''}`);
    if (check.json5) out.info(`  ${JSON5_NOTE}`);
    return 0;
  }
  out.error(`${label} is not valid: ${problems.length} problem${problems.length === 1 ? '' : 's'} (the gateway would refuse to start with it)`);
  for (const problem of problems) out.line(`  ${problem.text}`);
  if (check.json5 && !problems.some((p) => p.message.startsWith('JSON5 parse failed'))) out.info(`  (read as ${JSON5_NOTE})`);
  return 1;
}
