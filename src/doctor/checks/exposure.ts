/** network: public or private, as the project says — judged from the app's addresses on Fly. */
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
        return { status: 'fail', summary: `the project is private, but the app has public addresses: anyone can reach https://${ev.project.app}.fly.dev/`, evidence, fix };
      }
      if (ips.flycast.length === 0) return { status: 'fail', summary: 'private, but no Flycast address: the gateway cannot be reached at all, not even through clawdfly open', evidence, fix };
      return { status: 'ok', summary: `private: Flycast ${describeIps(ips.flycast)}, no public address`, evidence };
    }
    if (ips.public.length === 0) {
      return { status: 'fail', summary: `the project is public, but the app has no public address: https://${ev.project.app}.fly.dev/ cannot answer`, evidence, fix };
    }
    return { status: 'ok', summary: `public: ${describeIps(ips.public)}`, evidence };
  },
};
