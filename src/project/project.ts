/**
 * A clawdfly project as later commands see it: the files `init` wrote, parsed once.
 * fly.toml is the source of truth for the app (the user may edit it); answers.json fills in
 * what fly.toml does not say (runtime, channels).
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ClawdflyError, UsageError } from '../errors.js';
import { PROJECT_FILES } from './paths.js';
import { checkAppName } from './fly-platform.js';
import { flyTomlFacts, type FlyTomlFacts } from './render.js';
import type { Answers } from './answers.js';
import { readSecrets, type Secrets } from './secrets.js';
import { readTextIfExists } from '../util/fs.js';
import { exposureOf, type Exposure } from './network.js';
import { LEGACY_RUNTIME_ID, findRuntime, remoteConfigPath, STATE_DIR, type GatewayRuntime } from '../gateway/runtime.js';

export interface Project {
  dir: string;
  app: string;
  fly: FlyTomlFacts;
  flyTomlText: string;
  answers?: Answers;
  runtime: GatewayRuntime;
  secrets: Secrets;
  configPath: string;
  configText?: string;
  /** Where the gateway reads its config on the machine. */
  remoteConfigPath: string;
  stateDir: string;
  /** Public (fly.dev) or private (Flycast only), as init was told. */
  exposure: Exposure;
}

export async function readAnswers(dir: string): Promise<Answers | undefined> {
  const text = await readTextIfExists(join(dir, PROJECT_FILES.answers));
  return text ? (JSON.parse(text) as Answers) : undefined;
}

export async function loadProject(dirOption: string | undefined, opts: { app?: string } = {}): Promise<Project> {
  const dir = resolve(dirOption ?? '.');
  let flyTomlText: string;
  try {
    flyTomlText = await readFile(join(dir, PROJECT_FILES.flyToml), 'utf8');
  } catch {
    throw new UsageError(`no fly.toml in ${dir}`, `clawdfly init --dir ${dirOption ?? '.'} (or pass --dir to the project folder)`, 'no-project');
  }
  let fly: FlyTomlFacts;
  try {
    fly = flyTomlFacts(flyTomlText);
  } catch (error) {
    // smol-toml's TomlError knows where: say the line (and show it), as `config validate` does for JSON
    const { line, column } = error as { line?: number; column?: number };
    const cause = (error as Error).message.split('\n')[0]!.replace(/^Invalid TOML document:\s*/, '');
    const at = line ? ` at line ${line}${column ? `, column ${column}` : ''}` : '';
    const shown = line ? flyTomlText.split('\n')[line - 1] : undefined;
    throw new ClawdflyError(`fly.toml is not valid TOML${at}: ${cause}`, {
      hint: `fix ${join(dir, PROJECT_FILES.flyToml)}${line ? `:${line}` : ''}`,
      code: 'bad-fly-toml',
      exitCode: 2,
      evidence: shown !== undefined ? [`${line} | ${shown.slice(0, 200)}`] : [],
    });
  }
  const answers = await readAnswers(dir);
  const runtime = findRuntime(answers?.runtime ?? LEGACY_RUNTIME_ID) ?? findRuntime(LEGACY_RUNTIME_ID)!;
  // --app names another app than fly.toml's: a name Fly would refuse is bad input (exit 2), not a failed call
  const app = opts.app !== undefined ? checkAppName(opts.app) : fly.app;
  if (!app) throw new UsageError('fly.toml has no app name', '--app NAME, or add app = "NAME" to fly.toml', 'no-app');
  const stateDir = fly.env[runtime.env.stateDir] ?? STATE_DIR;
  const configPath = join(dir, runtime.configFileName);
  return {
    dir,
    app,
    fly,
    flyTomlText,
    answers,
    runtime,
    secrets: await readSecrets(dir),
    configPath,
    configText: await readTextIfExists(configPath),
    remoteConfigPath: remoteConfigPath(runtime, stateDir),
    stateDir,
    exposure: exposureOf(answers),
  };
}
