/**
 * `clawdfly ci token`: an app-scoped deploy token (it can deploy this app and nothing else) for the
 * workflow `init --github-actions` wrote. The token goes from flyctl's stdout straight into
 * `gh secret set FLY_API_TOKEN`'s stdin: never on an argv, never on the screen. Without gh it
 * creates nothing and prints the pipe to run; `--print` is the one way to see the token.
 */
import type { CommandContext } from '../types.js';
import type { ciTokenSpec } from './spec.js';
import { ClawdflyError, UsageError } from '../../errors.js';
import { flyFor, openProject } from '../../operate/context.js';
import { findOnPath, runProcess } from '../../util/process.js';
import { isJsonMode, out, stdoutStream } from '../../ui/output.js';
import { style } from '../../ui/style.js';
import { joinShellWords } from '../../util/shell-words.js';

export const CI_TOKEN_SECRET = 'FLY_API_TOKEN';
const REPO_RE = /^[\w.-]+\/[\w.-]+$/;

/** flyctl takes Go durations and has no `d` (flyctl-day2.md §3.1): say so here, not as flyctl's usage dump. */
function checkExpiry(value: string): string {
  if (!/^\d+h$/.test(value) || Number(value.slice(0, -1)) < 1) throw new UsageError(`--expiry takes whole hours, like 720h (30 days) or 8760h (a year); got "${value}"`, '--expiry 8760h', 'bad-expiry');
  return value;
}

export async function run({ opts }: CommandContext<typeof ciTokenSpec>): Promise<number> {
  const expiry = checkExpiry(opts.expiry);
  const repo = opts.repo;
  if (repo !== undefined && !REPO_RE.test(repo)) throw new UsageError(`--repo takes owner/name, got "${repo}"`, '--repo my-user/my-gateway', 'bad-repo');
  const project = await openProject(opts);
  const fly = flyFor(project, opts);
  const tokenName = `clawdfly ci${repo ? ` ${repo}` : ''}`;
  const gh = findOnPath('gh');
  const ghArgs = ['secret', 'set', CI_TOKEN_SECRET, ...(repo ? ['--repo', repo] : [])];
  const flyctlWords = ['flyctl', 'tokens', 'create', 'deploy', '-a', project.app, '-x', expiry];

  if (opts.print === true) {
    await fly.ensureVersion();
    const token = await fly.createDeployToken({ name: tokenName, expiry });
    out.warn(`a deploy token for ${project.app}, valid ${expiry}: store it as ${CI_TOKEN_SECRET}; revoke it with flyctl tokens list / revoke -a ${project.app}`);
    stdoutStream().write(`${token}\n`);
    return 0;
  }

  if (!gh) {
    // Creating a token with nowhere safe to put it would only leave a live credential behind.
    // Exit 1: the secret was not stored, and a script that goes on to push must not think it was.
    const pipe = `${joinShellWords(flyctlWords)} | ${joinShellWords(['gh', ...ghArgs])}`;
    throw new ClawdflyError('gh (the GitHub CLI) is not on PATH, so no token was created and FLY_API_TOKEN was not set', {
      hint: `install gh (https://cli.github.com) and run clawdfly ci token again, or run the pipe yourself: ${pipe}  (or clawdfly ci token --print, and paste it into Settings → Secrets and variables → Actions → ${CI_TOKEN_SECRET})`,
      code: 'gh-missing',
    });
  }

  await fly.ensureVersion();
  const token = await fly.createDeployToken({ name: tokenName, expiry });
  const stored = await runProcess(gh, ghArgs, { cwd: project.dir, input: token, timeoutMs: 60_000 });
  if (stored.code !== 0) {
    throw new ClawdflyError(`gh secret set ${CI_TOKEN_SECRET} failed (exit ${stored.code}); the token was created but not stored`, {
      hint: `gh auth login (and --repo owner/name when the folder is not a clone), then run clawdfly ci token again; revoke the unused token: flyctl tokens list -a ${project.app}`,
      code: 'gh-failed',
      evidence: stored.stderr.trim().split('\n').slice(-3),
    });
  }
  if (isJsonMode()) {
    out.json({ ok: true, stored: true, secret: CI_TOKEN_SECRET, app: project.app, repo: repo ?? null, tokenName, expiry });
    return 0;
  }
  out.success(`${CI_TOKEN_SECRET} set${repo ? ` in ${repo}` : ''}: a deploy token for ${project.app} only, valid ${expiry} ("${tokenName}")`);
  out.info(`  the workflow deploys on the next push; revoke the token with ${style.cmd(`flyctl tokens list -a ${project.app}`)} and ${style.cmd('flyctl tokens revoke <id>')}`);
  return 0;
}
