/** Small helpers shared by the fixes. */
import { join } from 'node:path';
import type { Project } from '../../project/project.js';
import { PROJECT_FILES } from '../../project/paths.js';
import { writeFileAtomic } from '../../util/fs.js';
import type { CheckId, FixKind } from '../types.js';
import type { FixPlan } from './types.js';

/** A plan that cannot run automatically, and why (doctor reports it as manual). */
export function blocked(kind: FixKind, checks: CheckId[], why: string): FixPlan {
  return { kind, checks, steps: [], blocked: why, apply: async () => undefined };
}

/** Write fly.toml when a fix changed it, so that the next `fly deploy` keeps the repair. */
export async function saveFlyToml(project: Project, text: string): Promise<void> {
  if (text !== project.flyTomlText) await writeFileAtomic(join(project.dir, PROJECT_FILES.flyToml), text);
}
