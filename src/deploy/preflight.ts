/**
 * Local checks before deploy touches Fly: everything that would make the deploy fail (or the
 * gateway crash) and can be seen from the project folder alone. All of them run before the
 * first remote mutation, so a refused deploy leaves no app, volume or secret behind.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ClawdflyError } from '../errors.js';
import { checkConfigText, formatProblem } from '../gateway/config-file.js';
import { DEFAULT_VOLUME } from '../gateway/runtime.js';
import { MIN_MEMORY_MB, RECOMMENDED_MEMORY_MB } from '../project/answers.js';
import { guestMemoryError, VM_PRESETS } from '../project/fly-platform.js';
import { PROJECT_FILES } from '../project/paths.js';
import type { Project } from '../project/project.js';
import { commandBind, commandPort } from '../project/render.js';

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
}

function refuse(message: string, hint: string, code: string, evidence: string[] = []): never {
  throw new ClawdflyError(message, { hint, code, exitCode: 2, evidence });
}

function onPath(name: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      const candidate = join(dir, name);
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return true;
    } catch {
      // next
    }
  }
  return false;
}

const SECRET_NAME_RE = /^[A-Z_][A-Z0-9_]*$/;

export function localPreflight(project: Project, opts: { localOnly?: boolean } = {}): LocalFacts {
  const { fly, dir } = project;
  const tomlPath = join(dir, PROJECT_FILES.flyToml);
  const warnings: string[] = [];

  if (!fly.primaryRegion) {
    // Without it flyctl creates the volume in region "" and the deploy hangs (flyctl #2730).
    refuse('fly.toml has no primary_region', `add primary_region = "iad" (or your region) to ${tomlPath}`, 'no-region');
  }
  if (!fly.mountSource) refuse('fly.toml has no [mounts] source: the gateway would lose its state on every restart', `add [mounts] source = "${DEFAULT_VOLUME}", destination = "${project.stateDir}" to ${tomlPath}`, 'no-mount');
  if (fly.mountDestination !== project.stateDir) {
    refuse(
      `[mounts] destination "${fly.mountDestination ?? ''}" is not the gateway's state dir ${project.stateDir}: state would not be saved`,
      `set destination = "${project.stateDir}" under [mounts] in ${tomlPath}`,
      'mount-mismatch',
    );
  }

  const vmSize = fly.vmSize ?? 'shared-cpu-1x';
  const preset = VM_PRESETS[vmSize];
  if (!preset) refuse(`unknown [[vm]] size "${vmSize}" in fly.toml`, `size = one of ${Object.keys(VM_PRESETS).join(', ')}`, 'bad-vm-size');
  const memoryMb = fly.memoryMb ?? preset.defaultMemoryMb;
  const flyError = guestMemoryError(preset, memoryMb);
  if (flyError) refuse(`${flyError} (${vmSize})`, `fix memory under [[vm]] in ${tomlPath}`, 'bad-memory');
  if (memoryMb < MIN_MEMORY_MB) {
    refuse(
      `[[vm]] memory is ${memoryMb} MB: the gateway's cold boot peaks at ~1 GB and is killed below ${MIN_MEMORY_MB} MB`,
      `set memory = "${RECOMMENDED_MEMORY_MB}mb" under [[vm]] in ${tomlPath}`,
      'memory-too-small',
    );
  }
  if (memoryMb < RECOMMENDED_MEMORY_MB) warnings.push(`${memoryMb} MB may run out of memory under load; ${RECOMMENDED_MEMORY_MB} MB is recommended`);

  const port = commandPort(fly.processCommand);
  if (port === undefined || fly.internalPort !== port) {
    refuse(
      `[http_service] internal_port (${fly.internalPort ?? 'unset'}) must equal the gateway's --port (${port ?? 'unset'}), or Fly's proxy cannot reach it`,
      `make internal_port and --port in [processes] app the same number in ${tomlPath}`,
      'port-mismatch',
    );
  }
  const bind = commandBind(fly.processCommand);
  if (bind !== 'lan') {
    refuse(
      `the gateway command binds "${bind ?? 'loopback'}": it must be --bind lan (0.0.0.0) for Fly's proxy to reach it`,
      `add --bind lan to [processes] app in ${tomlPath}`,
      'bind-not-lan',
    );
  }

  if (project.configText === undefined) refuse(`no ${project.runtime.configFileName} in ${dir}`, 'clawdfly init  (writes it)', 'no-config');
  const check = checkConfigText(project.configText);
  if (!check.ok) {
    refuse(
      `${project.runtime.configFileName} would be refused by the gateway (it refuses to start with an invalid config)`,
      'fix the lines below, then run deploy again (clawdfly config validate shows the same)',
      'config-invalid',
      check.problems.map((p) => formatProblem(p, project.runtime.configFileName)),
    );
  }
  if (check.json5) warnings.push(`${project.runtime.configFileName} uses JSON5 syntax; the gateway accepts it but rewrites it as plain JSON`);

  for (const file of [PROJECT_FILES.dockerfile, `${PROJECT_FILES.runtimeDir}/package.json`]) {
    if (!existsSync(join(dir, file))) refuse(`${file} is missing in ${dir}: the image cannot be built`, 'clawdfly init  (writes it again; your edits to other files are kept)', 'no-build-input');
  }

  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(project.secrets)) if (value !== '' && SECRET_NAME_RE.test(name)) secrets[name] = value;
  const tokenName = project.runtime.env.gatewayToken;
  if (!secrets[tokenName]) {
    refuse(
      `${tokenName} is missing from ${PROJECT_FILES.secrets}: the gateway refuses to bind beyond loopback without it`,
      'clawdfly init  (generates one and keeps your other answers)',
      'no-gateway-token',
    );
  }

  if (opts.localOnly && !onPath('docker')) refuse('--local-only builds with your local Docker, and docker is not on PATH', 'drop --local-only (Fly builds remotely), or install Docker', 'no-docker');

  return {
    region: fly.primaryRegion,
    volume: fly.mountSource,
    volumeSizeGb: fly.initialSizeGb ?? 1,
    vmSize,
    memoryMb,
    port: port!,
    secrets,
    configText: project.configText,
    warnings,
  };
}
