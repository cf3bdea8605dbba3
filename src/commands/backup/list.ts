/**
 * `clawdfly backup list [--remote]`: the local archives (.clawdfly/backups), or the off-site copies
 * in the bucket, as the machine's uploader lists them (the credentials live on the machine). Names
 * from the bucket are untrusted text: shown through the output filter.
 */
import type { CommandContext } from '../types.js';
import type { backupListSpec } from './spec.js';
import { UsageError } from '../../errors.js';
import { formatBytes, listBackups } from '../../backup/archive.js';
import { listRemoteCopies } from '../../backup/offsite-remote.js';
import { hasOffsite } from '../../backup/offsite.js';
import { flyFor, openProject } from '../../operate/context.js';
import { pickMachine } from '../../operate/machine.js';
import { PROJECT_FILES } from '../../project/paths.js';
import { isJsonMode, out, untrusted } from '../../ui/output.js';
import { relative } from 'node:path';
import { t } from '../../i18n/index.js';

export async function run({ opts }: CommandContext<typeof backupListSpec>): Promise<number> {
  const project = await openProject(opts);
  if (opts.remote !== true) {
    const local = await listBackups(project.dir, project.app);
    if (isJsonMode()) {
      out.json({ ok: true, where: 'local', app: project.app, backups: local.map((b) => ({ file: b.file, size: b.bytes, time: b.takenAt.toISOString() })) });
      return 0;
    }
    if (!local.length) out.info(t('backup.list.noneLocal', { app: project.app, dir: `${PROJECT_FILES.stateDir}/backups` }));
    for (const b of local) out.info(`${b.takenAt.toISOString()}  ${formatBytes(b.bytes).padStart(9)}  ${relative(process.cwd(), b.file) || b.file}`);
    return 0;
  }
  if (!hasOffsite(project)) {
    throw new UsageError(t('backup.list.notScheduled', { app: project.app, file: PROJECT_FILES.secrets }), 'clawdfly backup schedule --every 1h', 'not-scheduled');
  }
  const fly = flyFor(project, opts);
  const { machine } = await pickMachine(fly, { machineId: opts.machine });
  const copies = await listRemoteCopies(project, fly, machine);
  if (isJsonMode()) {
    out.json({ ok: true, where: 'remote', app: project.app, copies: copies.map((c) => ({ name: untrusted(c.name), size: c.size, time: untrusted(c.time) })) });
    return 0;
  }
  if (!copies.length) {
    out.info(t('backup.list.noneRemote', { app: project.app }));
    return 0;
  }
  for (const c of copies) out.info(`${untrusted(c.time)}  ${formatBytes(c.size).padStart(9)}  ${untrusted(c.name)}`);
  out.info(`  ${t('backup.list.restoreOne')}`);
  return 0;
}
