/** network: public or private, as the project says — judged from the app's addresses on Fly. */
import { t } from '../../i18n/index.js';
import { classifyIps, describeIps } from '../../project/network.js';
import type { Check } from '../types.js';
import { missing } from './common.js';

export const exposureCheck: Check = {
  id: 'network',
  title: 'public or private, as the project says',
  run(ev) {
    const skip = missing(ev, ev.ips, 'the app\'s IP addresses');
    if (skip) return skip;
    const ips = classifyIps(ev.ips!.value!);
    const evidence = [`fly ips list: ${describeIps(ev.ips!.value!)}`];
    // Printed through style.cmd, which adds npx and the user's --dir as they invoked clawdfly.
    const fix = 'clawdfly deploy  (shows the address changes and asks first)';
    if (ev.project.exposure === 'private') {
      if (ips.public.length > 0) {
        return { status: 'fail', summary: t('doctor.network.privateButPublic', { app: ev.project.app }), evidence, fix };
      }
      if (ips.flycast.length === 0) return { status: 'fail', summary: t('doctor.network.privateNoFlycast'), evidence, fix };
      return { status: 'ok', summary: t('doctor.network.privateOk', { addresses: describeIps(ips.flycast) }), evidence };
    }
    if (ips.public.length === 0) {
      return { status: 'fail', summary: t('doctor.network.publicButNone', { app: ev.project.app }), evidence, fix };
    }
    return { status: 'ok', summary: t('doctor.network.publicOk', { addresses: describeIps(ips.public) }), evidence };
  },
};
