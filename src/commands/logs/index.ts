/**
 * `clawdfly logs`: `fly logs --no-tail --json` (recent lines; flyctl hangs on an empty buffer, so a
 * timeout reads as "no lines"), or `--follow`: `fly logs` streamed line by line until Ctrl-C.
 * Every line goes through out.* (redacted) with the gateway's important lines marked.
 */
import type { CommandContext } from '../types.js';
import type { logsSpec } from './spec.js';
import { UsageError } from '../../errors.js';
import { flyFor, openProject } from '../../operate/context.js';
import { pickMachine } from '../../operate/machine.js';
import { isAtOrAfter, markOf, parseSince, parseTextLine, renderLine, type Mark, type ShownLine } from '../../operate/logs.js';
import { isJsonMode, out, untrusted } from '../../ui/output.js';
import { style } from '../../ui/style.js';

export async function run({ opts }: CommandContext<typeof logsSpec>): Promise<number> {
  const follow = opts.follow === true;
  if (follow && isJsonMode()) throw new UsageError('--follow never ends, so it cannot print one JSON document', 'clawdfly logs --json  (recent lines), or --follow without --json', 'bad-flags');
  const since = typeof opts.since === 'string' ? parseSince(opts.since) : undefined;
  const machineId = opts.machine;
  const project = await openProject(opts);
  const fly = flyFor(project, opts);
  // flyctl prints nothing for a machine that is not there: a typo would read as a quiet gateway.
  // A stopped machine's lines are still worth reading, so it need not be started.
  if (machineId) await pickMachine(fly, { machineId, started: false });

  if (follow) {
    out.warn(`following the logs of ${project.app} (Ctrl-C to stop)`);
    let interrupted = false;
    const onInt = () => (interrupted = true);
    process.once('SIGINT', onInt);
    const code = await fly.followLogs(
      (text, stream) => {
        const line = parseTextLine(text);
        if (!line.timestamp && stream === 'stderr') {
          out.warn(untrusted(text));
          return;
        }
        if (isAtOrAfter(line.timestamp, since)) out.info(renderLine(line));
      },
      { machineId },
    );
    process.off('SIGINT', onInt);
    if (interrupted) return 130;
    if (code !== 0) out.error(`flyctl logs ended with exit code ${code}`);
    return code;
  }

  const { entries, timedOut } = await fly.recentLogs({ machineId });
  const lines: ShownLine[] = entries
    .filter((e) => isAtOrAfter(e.timestamp, since))
    .map((e) => ({ timestamp: e.timestamp, instance: e.instance, region: e.region, level: e.level, message: e.message, mark: markOf(e.message, e.level) }));
  const counts: Partial<Record<Mark, number>> = {};
  for (const l of lines) if (l.mark) counts[l.mark] = (counts[l.mark] ?? 0) + 1;

  if (isJsonMode()) {
    out.json({ ok: true, app: project.app, lines, marks: counts, complete: !timedOut });
    return 0;
  }
  for (const line of lines) out.info(renderLine(line));
  if (lines.length === 0) {
    out.info(style.dim(`no log lines${since !== undefined ? ' in that time' : ''}${timedOut ? ' (Fly returned none within the time limit)' : ''}`));
  }
  const problems = (['error', 'oom', 'lock'] as Mark[]).filter((m) => counts[m]).map((m) => `${counts[m]} ${m === 'oom' ? 'out-of-memory' : m}`);
  if (problems.length > 0) out.warn(`${problems.join(', ')} line(s) above → clawdfly doctor explains and fixes these`);
  return 0;
}
