/**
 * Local checks before deploy touches Fly: everything that would make the deploy fail (or the
 * gateway crash) and can be seen from the project folder alone. All of them run before the
 * first remote mutation, so a refused deploy leaves no app, volume or secret behind.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findOnPath } from '../util/find-on-path.js';
import { ClawdflyError, UsageError } from '../errors.js';
import { importLine } from '../fly/secrets-import.js';
import { checkConfigText, formatProblem } from '../gateway/config-file.js';
import { MIN_MEMORY_MB, RECOMMENDED_MEMORY_MB } from '../project/answers.js';
import { guestMemoryError, VM_PRESETS } from '../project/fly-platform.js';
import { PROJECT_FILES } from '../project/paths.js';
import { SECRET_NAME_RE } from '../project/secrets.js';
import { projectSecretNames } from '../project/answers.js';
import { registerSecrets } from '../ui/redact.js';
import type { Project } from '../project/project.js';
import { commandPort } from '../project/render.js';
import { bindsBeyondLoopback, projectBind, stateDirFix } from '../project/checks.js';

export interface LocalFacts {
  region: string;
  volume: string;
  volumeSizeGb: number;
  vmSize: string;
  memoryMb: number;
  port: number;
  /** Secrets clawdfly stages (from .clawdfly/secrets.env, empty values left out). */
  secrets: Record<string, string>;
  configText: string;
  warnings: string[];
  /** --secrets-from-env: a secret absent here is kept as it is on Fly (CI has no secrets.env). */
  secretsFromEnv: boolean;
}

/** One problem: its cause and fix, as every refusal reads. More: all of them, each with its fix. */
function refuseProblems(problems: Problem[]): void {
  const [first] = problems;
  if (!first) return;
  if (problems.length === 1) throw new ClawdflyError(first.message, { hint: first.fix, code: first.code, exitCode: 2, evidence: first.evidence ?? [] });
  const evidence = problems.flatMap((p, i) => [`${i + 1}. ${p.message}`, `   → ${p.fix}`, ...(p.evidence ?? []).map((e) => `   ${e}`)]);
  throw new ClawdflyError(`the project has ${problems.length} problems; nothing was changed on Fly`, {
    hint: 'fix each as shown above, then run deploy again (clawdfly doctor --offline shows the same)',
    code: 'project-problems',
    exitCode: 2,
    evidence,
  });
}

/** The secrets deploy stages on Fly: every well-named, non-empty line of secrets.env. */
export function stagedSecrets(all: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(all).filter(([name, value]) => value !== '' && SECRET_NAME_RE.test(name)));
}

/** --secrets-from-env: the project's secret names that are set (non-empty) in the environment. */
export function secretsFromEnvironment(project: Project): Record<string, string> {
  const found = projectSecretNames(project.answers, project.runtime).flatMap((name) => {
    const value = process.env[name]?.trim();
    return value ? [[name, value] as const] : [];
  });
  registerSecrets(found.map(([, value]) => value));
  return Object.fromEntries(found);
}

/** One thing wrong with the project, with the one change that fixes it. */
interface Problem {
  message: string;
  fix: string;
  code: string;
  evidence?: string[];
}

/**
 * Every local check, all of them every time: a project with four problems is refused once, with
 * four fixes, not in four runs. Nothing is refused half-way, so a refused deploy changes nothing.
 */
export function localPreflight(project: Project, opts: { localOnly?: boolean; secretsFromEnv?: boolean } = {}): LocalFacts {
  const { fly, dir } = project;
  const tomlPath = join(dir, PROJECT_FILES.flyToml);
  const warnings: string[] = [];
  const problems: Problem[] = [];
  const problem = (message: string, fix: string, code: string, evidence?: string[]) => problems.push({ message, fix, code, evidence });

  // Without it flyctl creates the volume in region "" and the deploy hangs (flyctl #2730).
  if (!fly.primaryRegion) problem('fly.toml has no primary_region', `add primary_region = "iad" (or your region) to ${tomlPath}`, 'no-region');
  if (!fly.mountSource || fly.mountDestination !== project.stateDir) {
    const what = !fly.mountSource ? 'fly.toml has no [mounts] source' : `[mounts] destination "${fly.mountDestination ?? ''}" is not the gateway's state dir ${project.stateDir}`;
    problem(`${what}: the gateway would lose its state on every restart`, stateDirFix(project), fly.mountSource ? 'mount-mismatch' : 'no-mount');
  }

  const vmSize = fly.vmSize ?? 'shared-cpu-1x';
  const preset = VM_PRESETS[vmSize];
  const memoryMb = fly.memoryMb ?? preset?.defaultMemoryMb ?? RECOMMENDED_MEMORY_MB;
  if (!preset) problem(`unknown [[vm]] size "${vmSize}" in fly.toml`, `size = one of ${Object.keys(VM_PRESETS).join(', ')}`, 'bad-vm-size');
  const flyError = preset && guestMemoryError(preset, memoryMb);
  if (flyError) problem(`${flyError} (${vmSize})`, `fix memory under [[vm]] in ${tomlPath}`, 'bad-memory');
  else if (memoryMb < MIN_MEMORY_MB) {
    problem(`[[vm]] memory is ${memoryMb} MB: the gateway's cold boot peaks at ~1 GB and is killed below ${MIN_MEMORY_MB} MB`, `set memory = "${RECOMMENDED_MEMORY_MB}mb" under [[vm]] in ${tomlPath}`, 'memory-too-small');
  } else if (memoryMb < RECOMMENDED_MEMORY_MB) warnings.push(`${memoryMb} MB may run out of memory under load; ${RECOMMENDED_MEMORY_MB} MB is recommended`);

  const port = commandPort(fly.processCommand);
  if (port === undefined || fly.internalPort !== port) {
    problem(
      `[http_service] internal_port (${fly.internalPort ?? 'unset'}) must equal the gateway's --port (${port ?? 'unset'}), or Fly's proxy cannot reach it`,
      `make internal_port and --port in [processes] app the same number in ${tomlPath}`,
      'port-mismatch',
    );
  }
  const bind = projectBind(project);
  if (!bindsBeyondLoopback(bind)) {
    problem(`the gateway binds "${bind}": it must be --bind lan (0.0.0.0) for Fly's proxy to reach it`, `add --bind lan to [processes] app in ${tomlPath}`, 'bind-not-lan');
  }

  if (project.configText === undefined) problem(`no ${project.runtime.configFileName} in ${dir}`, 'clawdfly init  (writes it)', 'no-config');
  else {
    const check = checkConfigText(project.configText, project.runtime);
    if (!check.ok) {
      problem(
        `${project.runtime.configFileName} would be refused by the gateway (it refuses to start with an invalid config)`,
        'fix the lines below, then run deploy again (clawdfly config validate shows the same)',
        'config-invalid',
        check.problems.map((p) => formatProblem(p, project.runtime.configFileName)),
      );
    }
    if (check.json5) warnings.push(`${project.runtime.configFileName} uses JSON5 syntax; the gateway accepts it but rewrites it as plain JSON`);
  }

  for (const file of [PROJECT_FILES.dockerfile, `${PROJECT_FILES.runtimeDir}/package.json`]) {
    if (!existsSync(join(dir, file))) problem(`${file} is missing in ${dir}: the image cannot be built`, 'clawdfly init  (writes it again; your edits to other files are kept)', 'no-build-input');
  }

  const secretsFromEnv = opts.secretsFromEnv === true;
  const secrets = stagedSecrets(secretsFromEnv ? { ...project.secrets, ...secretsFromEnvironment(project) } : project.secrets);
  const tokenName = project.runtime.env.gatewayToken;
  // From the environment (CI), a token already on Fly is kept: the plan checks that it is there.
  if (!secrets[tokenName] && !secretsFromEnv) {
    // Never `clawdfly init` here: in a clone of a deployed project it would mint a new token, and the
    // next deploy would silently rotate the live one (every paired browser logged out).
    problem(
      `${tokenName} is missing from ${PROJECT_FILES.secrets}: the gateway refuses to bind beyond loopback without it`,
      `copy ${PROJECT_FILES.secrets} from the computer that deployed (git ignores it, so a clone has none); or keep the token already on Fly: clawdfly deploy --secrets-from-env; or replace it on purpose: clawdfly token --rotate`,
      'no-gateway-token',
    );
  }

  // A value flyctl's import parser would change is refused here, not discovered on Fly.
  for (const [name, value] of Object.entries(secrets)) {
    try {
      importLine(name, value);
    } catch (error) {
      if (error instanceof UsageError) problem(error.message, error.hint ?? '', 'secret-unsendable');
      else throw error;
    }
  }

  if (opts.localOnly && !findOnPath('docker')) problem('--local-only builds with your local Docker, and docker is not on PATH', 'drop --local-only (Fly builds remotely), or install Docker', 'no-docker');

  refuseProblems(problems);
  return {
    // Set: refuseProblems() returned, so every check above passed.
    region: fly.primaryRegion!,
    volume: fly.mountSource!,
    volumeSizeGb: fly.initialSizeGb ?? 1,
    vmSize,
    memoryMb,
    port: port!,
    secrets,
    configText: project.configText!,
    warnings,
    secretsFromEnv,
  };
}
