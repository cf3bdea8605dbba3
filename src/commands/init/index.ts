/**
 * `clawdfly init`: answers → fly.toml, Dockerfile + runtime bundle, gateway config, .clawdfly/.
 * Everything is validated and rendered before the first byte is written; conflicts with files
 * the user edited are decided (or refused) before anything is written.
 */
import { redact } from '../../ui/redact.js';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CommandContext, CommandOptions } from '../types.js';
import type { initSpec } from './spec.js';
import { UsageError } from '../../errors.js';
import { collectAnswers, collectSecrets, costLine, providersWithKeys } from './collect.js';
import { readAnswers } from '../../project/project.js';
import { generateGatewayToken, parseSecretsInput, readSecrets, writeSecrets } from '../../project/secrets.js';
import { flyTomlFacts, renderProject } from '../../project/render.js';
import type { Answers } from '../../project/answers.js';
import { applyFiles, planFiles, readWrittenHashes, writtenHashesAfter, type PlannedFile } from '../../project/file-plan.js';
import { PROJECT_FILES } from '../../project/paths.js';
import { appUrl } from '../../project/network.js';
import { repoLayout } from '../../project/repo-layout.js';
import { ciInstallPlan } from '../../project/ci-install.js';
import { npmRegistry, prepareRuntime } from '../../project/runtime-release.js';
import { writeFileAtomic } from '../../util/fs.js';
import { readStdinText } from '../../util/stdin.js';
import { canPrompt, prompts } from '../../ui/prompt.js';
import { isJsonMode, out, stderrStream } from '../../ui/output.js';
import { registerSecrets } from '../../ui/redact.js';
import { style } from '../../ui/style.js';
import { findRuntime } from '../../gateway/runtime.js';
import { t } from '../../i18n/index.js';

const STATUS_LABEL: Record<PlannedFile['status'], string> = {
  create: style.ok('create   '),
  identical: style.dim('identical'),
  update: style.ok('update   '),
  conflict: style.warn('conflict '),
};

export async function run({ opts }: CommandContext<typeof initSpec>): Promise<number> {
  const dir = resolve(opts.dir);
  const yes = opts.yes === true;
  const ask = !yes && canPrompt();
  if (!yes && !ask) {
    throw new UsageError('init asks questions, but there is no terminal to ask them on', 'add --yes to use flags, environment variables and defaults (see clawdfly init --help)', 'not-interactive');
  }
  if (opts.force === true && opts.keep === true) throw new UsageError('--force and --keep contradict each other', 'pass one of them', 'bad-flags');

  const previous = await readAnswers(dir);
  const previousSecrets = await readSecrets(dir);
  const fromStdin = opts.secretsStdin === true ? parseSecretsInput(await readStdinText('--secrets-stdin'), '--secrets-stdin') : {};
  registerSecrets(Object.values(fromStdin));

  if (ask) out.info(style.bold(previous ? t('init.heading.update', { dir }) : t('init.heading.new', { dir })));
  const keyed = providersWithKeys(process.env, fromStdin, previousSecrets);
  const { answers, warnings } = await collectAnswers(opts, previous, ask, keyed);
  const secretResult = await collectSecrets(answers, previousSecrets, fromStdin, ask);
  const runtime = findRuntime(answers.runtime)!;
  // Re-runs keep the token: the deployed gateway and the user's browser already use it.
  const secrets = { [runtime.env.gatewayToken]: previousSecrets[runtime.env.gatewayToken] ?? generateGatewayToken(), ...secretResult.secrets };
  registerSecrets(Object.values(secrets));
  warnings.push(...secretResult.warnings);

  const written = await readWrittenHashes(dir, PROJECT_FILES.written);
  const layout = repoLayout(dir);
  // A release with no row: published? engines? its lockfile (exit 2 and nothing written when not).
  const release = await prepareRuntime(answers.runtime, { flag: '--runtime', projectDir: dir, registry: npmRegistry({ registry: answers.npmRegistry || undefined }) });
  if (release.notice) warnings.push(release.notice);
  const planned = await planFiles(dir, [...renderProject(answers, layout, release.lock), ...ciInstallPlan(dir, answers, layout, opts.clawdflySpec)], written);
  const keep = await decideConflicts(planned, opts, ask);

  const effective = answersInKeptFlyToml(planned, keep, answers, warnings);
  if (!isJsonMode()) {
    for (const warning of warnings) out.warn(warning);
    out.info(costLine(effective));
  }
  if (ask) {
    const { confirm } = await prompts();
    const writes = planned.filter((f) => f.status !== 'identical' && !keep.has(f.path)).length;
    if (!(await confirm({ message: t('init.confirmWrite', { count: writes, dir }), default: true }))) {
      out.warn(t('init.nothingWritten'));
      return 1;
    }
  }

  await mkdir(dir, { recursive: true });
  await applyFiles(dir, planned, keep);
  // What the project really is: a kept fly.toml's region, size and port, not this run's unapplied answers
  await writeFileAtomic(join(dir, PROJECT_FILES.answers), JSON.stringify(effective, null, 2) + '\n');
  await writeFileAtomic(join(dir, PROJECT_FILES.written), JSON.stringify(writtenHashesAfter(planned, keep, written), null, 2) + '\n');
  await writeSecrets(dir, secrets);

  if (isJsonMode()) {
    out.json({
      ok: true,
      dir,
      app: answers.app,
      url: appUrl(answers.app, answers.network === 'private' ? 'private' : 'public'),
      files: planned.map((f) => ({ path: f.path, status: keep.has(f.path) ? 'kept' : f.status })),
      secrets: Object.keys(secrets),
      warnings,
    });
    return 0;
  }
  for (const file of planned) out.info(`  ${keep.has(file.path) ? style.warn('kept     ') : STATUS_LABEL[file.status]} ${file.path}`);
  out.info(`  ${style.ok('write    ')} ${PROJECT_FILES.secrets} ${style.dim(t('init.secretsLine', { names: Object.keys(secrets).join(', ') }))}`);
  out.line();
  out.success(t('init.ready', { app: style.bold(answers.app), region: effective.region }));
  out.info(t('init.next', { command: style.cmd('clawdfly deploy') }));
  if (answers.network === 'private') out.info(t('init.next.private', { command: style.cmd('npx clawdfly open') }));
  if (answers.ci === 'github-actions') out.info(t('init.next.ci', { command: style.cmd('clawdfly ci token') }));
  if (answers.npmRegistry) out.info(t('init.next.npmRegistry', { url: answers.npmRegistry }));
  return 0;
}

/**
 * A kept fly.toml wins over this run's answers: say which answers it does not apply (the user may
 * think `--keep --memory 4096` gave them 4 GB), and return what the app will really get.
 */
function answersInKeptFlyToml(planned: PlannedFile[], keep: Set<string>, answers: Answers, warnings: string[]): Answers {
  const kept = planned.find((f) => f.path === PROJECT_FILES.flyToml && keep.has(f.path));
  if (!kept?.existing) return answers;
  let facts;
  try {
    facts = flyTomlFacts(kept.existing);
  } catch {
    return answers;
  }
  const effective = { ...answers, region: facts.primaryRegion ?? answers.region, vmSize: facts.vmSize ?? answers.vmSize, memoryMb: facts.memoryMb ?? answers.memoryMb, port: facts.internalPort ?? answers.port, volumeSizeGb: facts.initialSizeGb ?? answers.volumeSizeGb };
  const differs = (['region', 'vmSize', 'memoryMb', 'port', 'volumeSizeGb'] as const).filter((k) => effective[k] !== answers[k]);
  if (differs.length > 0) {
    const list = differs.map((k) => `${k} ${answers[k]} (fly.toml keeps ${effective[k]})`).join(', ');
    warnings.push(`fly.toml was kept, so these answers are not applied: ${list}. Edit fly.toml, or re-run with --force to rewrite it`);
  }
  return effective;
}

async function decideConflicts(planned: PlannedFile[], opts: CommandOptions<typeof initSpec>, ask: boolean): Promise<Set<string>> {
  const conflicts = planned.filter((f) => f.status === 'conflict');
  const keep = new Set<string>();
  if (conflicts.length === 0 || opts.force === true) return keep;
  if (opts.keep === true) {
    conflicts.forEach((f) => keep.add(f.path));
    return keep;
  }
  if (!ask) {
    for (const file of conflicts) stderrStream().write(redact(file.diff ?? ''));
    throw new UsageError(
      `${conflicts.length} file(s) differ from what init would write: ${conflicts.map((f) => f.path).join(', ')}`,
      '--force to overwrite them, or --keep to keep yours (diff above)',
      'conflict',
    );
  }
  const { select } = await prompts();
  for (const file of conflicts) {
    out.info(file.diff ?? '');
    const choice = await select({
      message: t('init.conflict.changed', { path: file.path }),
      choices: [
        { name: t('init.conflict.keep'), value: 'keep' },
        { name: t('init.conflict.overwrite'), value: 'overwrite' },
      ],
      default: 'keep',
    });
    if (choice === 'keep') keep.add(file.path);
  }
  return keep;
}
