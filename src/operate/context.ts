/**
 * What every operate command starts from: the project (fly.toml, secrets registered for redaction)
 * and a FlyClient for its app. `--dir`, `--app`, `--flyctl` are the shared flags.
 */
import { FlyClient } from '../fly/client.js';
import { loadProject, type Project } from '../project/project.js';
import { ClawdflyError } from '../errors.js';

export interface OperateOptions {
  dir?: string;
  app?: string;
  flyctl?: string;
}

/** The shared flags as given; an empty value counts as absent. */
export function operateOptions(opts: OperateOptions): OperateOptions {
  const str = (v: string | undefined) => (v !== '' ? v : undefined);
  return { dir: str(opts.dir), app: str(opts.app), flyctl: str(opts.flyctl) };
}

export async function openProject(opts: OperateOptions): Promise<Project> {
  const o = operateOptions(opts);
  // loadProject reads .clawdfly/secrets.env, which registers every value with the redaction filter.
  return loadProject(o.dir, { app: o.app });
}

export function flyFor(project: Project, opts: OperateOptions): FlyClient {
  return new FlyClient({ app: project.app, flyctl: operateOptions(opts).flyctl });
}

/**
 * An app named with `--app` that is not fly.toml's: a "not deployed" or "no such app" error must not
 * send the user to `clawdfly deploy`, which deploys fly.toml's app, not the one they named.
 */
export function notThisProjectsApp(error: unknown, project: Project): unknown {
  const tomlApp = project.fly.app;
  if (!(error instanceof ClawdflyError) || !tomlApp || tomlApp === project.app) return error;
  if (!['not-deployed', 'app-not-found'].includes(error.code)) return error;
  return new ClawdflyError(error.message, {
    hint: `check the name with: fly apps list  (${project.app} is not this project's app: clawdfly deploy would deploy ${tomlApp}, from fly.toml)`,
    code: error.code,
    exitCode: error.exitCode,
    evidence: error.evidence,
  });
}
