/**
 * ready: the gateway's own readiness (`GET /readyz` through the app's URL) for a runtime that has the
 * endpoint (openclaw). A 503 names what is not ready: a channel (`discord`) or a part of the gateway
 * (`state-database`); each gets its fix.
 */
import { CHANNEL_TOKENS } from '../../gateway/runtime.js';
import { describeFailing } from '../../gateway/health.js';
import type { Check, CheckResult, Evidence } from '../types.js';
import { offlineSkip } from './common.js';

/** The fix for a channel the gateway says is not ready. */
function channelFix(channel: string): string {
  const token = (CHANNEL_TOKENS as Record<string, string>)[channel];
  if (token) return `clawdfly logs  (the channel's own error), then a valid bot token: ${token}=… clawdfly init --yes && clawdfly deploy`;
  if (channel === 'whatsapp' || channel === 'signal') return `clawdfly logs  (the channel's own error); log in again: clawdfly channels login ${channel}`;
  return `clawdfly logs  (the channel's own error)`;
}

export const readyCheck: Check = {
  id: 'ready',
  title: "the gateway's own readiness (/readyz), channels included",
  run(ev: Evidence): CheckResult {
    const health = ev.project.runtime.health;
    if (!health) return { status: 'skip', summary: `${ev.project.runtime.productName} ${ev.project.runtime.packageVersion} has no ready endpoint` };
    if (ev.offline) return offlineSkip();
    if (ev.project.exposure === 'private') return { status: 'skip', summary: `private app: ${health.ready} is reachable only through the tunnel (clawdfly open, then ${health.ready})` };
    const probe = ev.readiness;
    if (!probe) return { status: 'skip', summary: `${health.ready} not asked` };
    if (!probe.ok) return { status: 'warn', summary: `${probe.value?.url ?? health.ready} did not answer (${probe.error ?? 'no answer'})`, fix: 'clawdfly doctor again in a minute; the network check says whether the app is reachable' };
    const { url, readiness } = probe.value!;
    if (!readiness) return { status: 'warn', summary: `${url} did not answer like the gateway's ready endpoint`, fix: 'clawdfly logs' };
    const evidence = [`GET ${url} → ${readiness.status}: failing ${JSON.stringify(readiness.failing)}`];
    if (readiness.ready) return { status: 'ok', summary: `${health.ready}: ready, no channel failing` };
    if (readiness.starting) return { status: 'warn', summary: `the gateway is still starting (${describeFailing(readiness)})`, evidence, fix: 'clawdfly doctor again in a minute (a cold boot takes up to ~2 min)' };
    if (readiness.channels.length) {
      const list = readiness.channels.join(', ');
      return {
        status: 'fail',
        summary: `${readiness.channels.length === 1 ? 'channel' : 'channels'} ${list} ${readiness.channels.length === 1 ? 'is' : 'are'} not ready (the gateway says so on ${health.ready})`,
        evidence,
        fix: readiness.channels.map(channelFix).join('; '),
      };
    }
    return { status: 'fail', summary: `the gateway is not ready: ${describeFailing(readiness)}`, evidence, fix: 'clawdfly logs  (its own words), then clawdfly doctor' };
  },
};
