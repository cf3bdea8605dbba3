/**
 * Where the project sits in its git repository, read from the files (no git binary needed): the
 * repository root is the nearest folder above (or at) the project with a `.git`, and the deploy
 * branch is the one checked out there. Without a repository the project folder will be its root.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { DEFAULT_REPO_LAYOUT, type RepoLayout } from './render.js';

function repoRoot(dir: string): string | undefined {
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(join(current, '.git'))) return current;
    if (dirname(current) === current) return undefined;
  }
}

/** `ref: refs/heads/<branch>` in .git/HEAD; a detached HEAD or a worktree's .git file: the default. */
function checkedOutBranch(root: string): string | undefined {
  try {
    const head = readFileSync(join(root, '.git', 'HEAD'), 'utf8');
    return /^ref: refs\/heads\/(\S+)/.exec(head)?.[1];
  } catch {
    return undefined;
  }
}

export function repoLayout(projectDir: string): RepoLayout {
  const root = repoRoot(projectDir);
  if (!root) return DEFAULT_REPO_LAYOUT;
  const workingDirectory = relative(root, projectDir).split(sep).join('/') || '.';
  const up = workingDirectory === '.' ? '' : workingDirectory.split('/').map(() => '..').join('/') + '/';
  return {
    workflowPath: `${up}${DEFAULT_REPO_LAYOUT.workflowPath}`,
    workingDirectory,
    branch: checkedOutBranch(root) ?? DEFAULT_REPO_LAYOUT.branch,
  };
}
