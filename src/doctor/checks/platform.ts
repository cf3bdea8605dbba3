/** flyctl, auth, app: can we talk to Fly, and is there a started gateway machine? */
import { t } from '../../i18n/index.js';
import { MIN_FLYCTL_VERSION } from '../../fly/client.js';
import { INSTALL_HINT } from '../../fly/locate.js';
import { compareVersions } from '../../util/version.js';
import { crashExits } from '../evidence.js';
import type { Check } from '../types.js';
import { app, missing, offlineSkip } from './common.js';

export const flyctlCheck: Check = {
  id: 'flyctl',
  title: 'flyctl installed and recent',
  run(ev) {
    if (ev.offline) return offlineSkip();
    const p = ev.flyctl;
    if (!p) return { status: 'skip', summary: t('doctor.skip.notProbed') };
    if (!p.ok) {
      if (p.code === 'flyctl-missing') return { status: 'fail', summary: t('doctor.flyctl.missing'), evidence: [p.error ?? ''], fix: INSTALL_HINT.replace(/^install flyctl: /, '') };
      return { status: 'fail', summary: t('doctor.flyctl.failed', { error: p.error ?? '' }), evidence: [p.error ?? ''], fix: 'fly version upgrade' };
    }
    const version = p.value!;
    if (compareVersions(version, MIN_FLYCTL_VERSION) < 0) {
      return {
        status: 'fail',
        summary: t('doctor.flyctl.old', { version, min: MIN_FLYCTL_VERSION }),
        evidence: [`flyctl version --json: "Version": "${version}"`],
        fix: 'fly version upgrade',
      };
    }
    return { status: 'ok', summary: t('doctor.flyctl.ok', { version }) };
  },
};

export const authCheck: Check = {
  id: 'auth',
  title: 'logged in to Fly.io',
  run(ev) {
    if (ev.offline) return offlineSkip();
    const skip = ev.flyctl && !ev.flyctl.ok && ev.flyctl.code === 'flyctl-missing' ? missing(ev, undefined, '') : undefined;
    if (skip) return skip;
    const p = ev.whoami;
    if (!p) return { status: 'skip', summary: t('doctor.skip.notProbed') };
    if (!p.ok) {
      return {
        status: 'fail',
        summary: p.code === 'not-logged-in' ? t('doctor.auth.notLoggedIn') : `flyctl auth whoami failed: ${p.error}`,
        evidence: [`flyctl auth whoami: ${p.error}`],
        fix: t('doctor.auth.fix'),
      };
    }
    return { status: 'ok', summary: t('doctor.auth.ok', { user: p.value ?? '' }) };
  },
};

export const appCheck: Check = {
  id: 'app',
  title: 'app exists with a started machine',
  run(ev) {
    const skip = missing(ev, ev.status, 'the app status');
    if (skip) return skip;
    if (ev.status!.value === undefined) {
      return { status: 'fail', summary: t('doctor.app.missing', { app: app(ev) }), evidence: [`flyctl status: ${q404(ev)}`], fix: 'clawdfly deploy' };
    }
    const skipM = missing(ev, ev.machines, 'the machine list');
    if (skipM) return skipM;
    const m = ev.machine;
    if (!m) return { status: 'fail', summary: t('doctor.app.noMachine', { app: app(ev) }), evidence: ['flyctl machines list --json: []'], fix: 'clawdfly deploy' };
    if (m.state !== 'started') {
      const crashed = crashExits(m).some((e) => e.code !== 0 || e.oom);
      const evidence = [`machine ${m.id} state: ${m.state}`];
      if (crashed) return { status: 'warn', summary: t('doctor.app.crashed', { machine: m.id, state: m.state ?? '?' }), evidence };
      return { status: 'fail', summary: t('doctor.app.stopped', { machine: m.id, state: m.state ?? '?' }), evidence, fix: `fly machine start ${m.id} -a ${app(ev)}` };
    }
    return { status: 'ok', summary: t('doctor.app.ok', { machine: m.id, region: m.region ?? '?' }) };
  },
  fixKind: (ev) => (ev.machine && ev.machine.state !== 'started' ? 'start' : undefined),
};

function q404(ev: Parameters<Check['run']>[0]): string {
  return ev.status?.ok ? 'Could not find App' : ev.status?.error ?? '';
}
