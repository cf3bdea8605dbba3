/**
 * Facts about a project that deploy's pre-checks and doctor both judge, computed one way so the two
 * never disagree (doctor said "binds lan" where deploy refused "binds loopback").
 */
import { commandBind } from './render.js';
import { DEFAULT_VOLUME, NON_LOOPBACK_BINDS, STATE_DIR } from '../gateway/runtime.js';
import { parseConfigText } from '../gateway/config-parse.js';
import type { Project } from './project.js';

/** The bind the gateway resolves from the project: `--bind` in the command, else the config's `gateway.bind`, else loopback. */
export function projectBind(project: Project): string {
  const config = project.configText === undefined ? undefined : parsedValue(project.configText);
  const fromConfig = ((config as Record<string, unknown> | undefined)?.['gateway'] as { bind?: unknown } | undefined)?.bind;
  return commandBind(project.fly.processCommand) ?? (typeof fromConfig === 'string' ? fromConfig : undefined) ?? 'loopback';
}

function parsedValue(text: string): unknown {
  try {
    return parseConfigText(text).value;
  } catch {
    return undefined; // unparsable: the config checks say so
  }
}

export function bindsBeyondLoopback(bind: string | undefined): boolean {
  return (NON_LOOPBACK_BINDS as readonly string[]).includes(bind ?? '');
}

/** The one piece of advice for a state dir that is not the volume: point the state dir at the mount. */
export function stateDirFix(project: Project): string {
  const name = project.runtime.env.stateDir;
  const dest = project.fly.mountDestination;
  return dest
    ? `fly.toml [env] ${name} = "${dest}" (the [mounts] destination), then: clawdfly deploy   (clawdfly doctor --fix does both)`
    : `add [mounts] source = "${DEFAULT_VOLUME}", destination = "${STATE_DIR}" and [env] ${name} = "${STATE_DIR}" to fly.toml, then: clawdfly deploy`;
}
