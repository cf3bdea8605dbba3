/** `clawdfly config validate [file]`: the gateway's schema, locally, with line numbers. */
import { isAbsolute, join, relative, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { checkConfigText, formatProblem } from '../../gateway/config-file.js';
import { LEGACY_RUNTIME_ID, findRuntime, nodeVersionProblem, type GatewayRuntime } from '../../gateway/runtime.js';
import { validateWithGateway, type GatewayValidation } from '../../gateway/validate.js';
import { installedLocalRuntime, nodeVersionOf } from '../../local/host.js';
import { loadProject, readAnswers } from '../../project/project.js';
import { findOnPath } from '../../util/process.js';
import { readTextIfExists } from '../../util/fs.js';
import { isJsonMode, out } from '../../ui/output.js';
import type { CommandContext } from '../types.js';
import type { configValidateSpec } from './spec.js';
import { str } from './shared.js';

export const JSON5_NOTE = 'JSON5 (comments, trailing commas or unquoted keys): the gateway accepts it, and rewrites it as plain JSON the next time it saves the file';

/**
 * The gateway's own verdict, when the runtime has a validator and `up --local --engine node` has
 * installed it for this project, run on a Node from PATH that the runtime accepts. Otherwise why not.
 */
async function gatewayVerdict(dir: string, runtime: GatewayRuntime, file: string): Promise<{ verdict?: GatewayValidation; why?: string }> {
  if (runtime.configValidator.kind !== 'gateway') return {};
  const installed = await loadProject(dir).then(installedLocalRuntime).catch(() => undefined);
  if (!installed) return { why: `run \`clawdfly up --local --engine node\` once (Node ${runtime.nodeMajor}), then validate again` };
  const node = findOnPath('node');
  const version = node ? await nodeVersionOf(node) : undefined;
  if (!node || !version || nodeVersionProblem(runtime, version)) return { why: `put Node ${runtime.nodeMajor} (${runtime.minNode} or newer) first on PATH` };
  return { verdict: await validateWithGateway(runtime, node, installed.entry, file) };
}

export async function run({ args, opts }: CommandContext<typeof configValidateSpec>): Promise<number> {
  const dir = resolve(str(opts.dir) ?? '.');
  const answers = await readAnswers(dir).catch(() => undefined);
  const runtime = findRuntime(answers?.runtime ?? LEGACY_RUNTIME_ID) ?? findRuntime(LEGACY_RUNTIME_ID)!;
  const file = args[0] ? resolve(args[0]) : join(dir, runtime.configFileName);
  const rel = relative(process.cwd(), file);
  const label = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
  const text = await readTextIfExists(file);
  if (text === undefined) throw new UsageError(`no config file at ${label}`, 'clawdfly config validate <file>  (or --dir <project>)', 'no-local-config');

  const check = checkConfigText(text, runtime);
  const gateway = check.ok ? await gatewayVerdict(dir, runtime, file) : undefined;
  if (gateway?.verdict && !gateway.verdict.valid) {
    check.ok = false;
    check.problems.push(...gateway.verdict.problems);
  }
  const problems = check.problems.map((p) => ({ path: p.path, message: p.message, line: p.line, text: formatProblem(p, label) }));
  const validator = runtime.configValidator.kind === 'schema' ? 'schema' : gateway?.verdict ? 'gateway' : 'parse-only';
  if (isJsonMode()) {
    out.json({ ok: check.ok, file, json5: check.json5, runtime: runtime.id, validator, problems, ...(gateway?.verdict ? { migrations: gateway.verdict.warnings } : {}) });
    return check.ok ? 0 : 1;
  }
  if (check.ok && validator === 'parse-only') {
    out.success(`${label} is well-formed ${check.json5 ? 'JSON5' : 'JSON'}`);
    out.info(`  ${runtime.id} checks its config with its own validator, which needs the runtime installed: ${gateway?.why ?? ''}`);
    return 0;
  }
  if (check.ok) {
    out.success(`${label} is valid${validator === 'gateway' ? ` (${runtime.cliName} ${runtime.configValidator.kind === 'gateway' ? runtime.configValidator.args.slice(0, 2).join(' ') : ''})` : ''}${check.json5 ? ' (JSON5)' : ''}`);
    for (const w of gateway?.verdict?.warnings ?? []) out.info(`  ${runtime.cliName} will migrate ${w.path}: ${w.message}`);
    if (check.json5) out.info(`  ${JSON5_NOTE}`);
    return 0;
  }
  out.error(`${label} is not valid: ${problems.length} problem${problems.length === 1 ? '' : 's'} (the gateway would refuse to start with it)`);
  for (const problem of problems) out.line(`  ${problem.text}`);
  if (check.json5 && !problems.some((p) => p.message.startsWith('JSON5 parse failed'))) out.info(`  (read as ${JSON5_NOTE})`);
  return 1;
}
