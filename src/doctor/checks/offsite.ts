/**
 * offsite: the age of the newest off-site copy against the schedule (`clawdfly backup schedule`),
 * from the uploader's status file on the volume (read by doctor's one ssh round trip). ok within
 * twice the interval, warn beyond, fail when it is stale and the uploader's last attempt failed
 * (its error shown through the output filter: it is the machine's text).
 */
import { t } from '../../i18n/index.js';
import { BACKUP_KEY_NAME, OFFSITE_ENV, OFFSITE_STATUS_FILE, scheduledMinutes } from '../../backup/offsite.js';
import { PROJECT_FILES } from '../../project/paths.js';
import { untrusted } from '../../ui/output.js';
import type { Check, CheckResult, Evidence } from '../types.js';
import { missing } from './common.js';

export interface OffsiteStatus {
  every?: string;
  lastUploadAt?: string;
  lastObject?: string;
  lastError?: string;
  lastErrorAt?: string;
}

export function offsiteStatusPath(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, '')}/${OFFSITE_STATUS_FILE}`;
}

function age(ms: number): string {
  const min = Math.max(0, Math.round(ms / 60_000));
  if (min < 120) return `${min} min`;
  if (min < 48 * 60) return `${Math.round(min / 60)} h`;
  return `${Math.floor(min / (24 * 60))} days`;
}

function parseStatus(text: string | undefined): OffsiteStatus | undefined {
  try {
    const value = JSON.parse(text ?? '') as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as OffsiteStatus) : undefined;
  } catch {
    return undefined;
  }
}

const time = (iso: string | undefined): number | undefined => {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
};

export const offsiteCheck: Check = {
  id: 'offsite',
  title: 'a recent off-site copy (backup schedule)',
  run(ev: Evidence) {
    const minutes = scheduledMinutes(ev.project.fly.env);
    if (minutes === undefined) return { status: 'skip', summary: t('doctor.offsite.notScheduled', { env: OFFSITE_ENV }) };
    const result = judge(ev, minutes);
    // The copies are only as good as the key kept here: a new app (the volume-died drill) gets it from secrets.env.
    if (!ev.project.secrets[BACKUP_KEY_NAME] && result.status !== 'fail') {
      return { status: 'warn', summary: t('doctor.offsite.noLocalKey', { key: BACKUP_KEY_NAME, file: PROJECT_FILES.secrets }), evidence: [result.summary, ...(result.evidence ?? [])], fix: `copy the ${BACKUP_KEY_NAME} line into ${PROJECT_FILES.secrets} from where you kept it (the computer that ran clawdfly backup schedule)` };
    }
    return result;
  },
};

function judge(ev: Evidence, minutes: number): CheckResult {
  const every = ev.project.fly.env[OFFSITE_ENV]!;
  const skip = missing(ev, ev.remote, 'the off-site status file');
  if (skip) return skip;
  const path = offsiteStatusPath(ev.project.stateDir);
  const file = ev.remote!.value!.configs.find((c) => c.path === path);
  const status = file?.exists ? parseStatus(file.text) : undefined;
  if (!status) return { status: 'warn', summary: t('doctor.offsite.noStatus', { every, file: path }), fix: 'clawdfly deploy  (carries the schedule to the machine)' };
  const uploaded = time(status.lastUploadAt);
  const failed = time(status.lastErrorAt);
  const newestAge = uploaded === undefined ? undefined : Date.now() - uploaded;
  const evidence = [
    ...(status.lastObject ? [`newest copy: ${untrusted(status.lastObject)} at ${untrusted(status.lastUploadAt ?? '?')}`] : []),
    ...(status.lastError ? [`last error at ${untrusted(status.lastErrorAt ?? '?')}: ${untrusted(status.lastError)}`] : []),
  ];
  const stale = newestAge === undefined || newestAge > 2 * minutes * 60_000;
  const failingNow = status.lastError !== undefined && status.lastError !== null && (uploaded === undefined || (failed ?? 0) > uploaded);
  const newest = newestAge === undefined ? '-' : age(newestAge);
  if (stale && failingNow) {
    return { status: 'fail', summary: t('doctor.offsite.failing', { error: untrusted(String(status.lastError)).slice(0, 300), newest }), evidence, fix: 'clawdfly logs  (the uploader retries with backoff; fix what it says, e.g. the bucket credentials in Fly secrets)' };
  }
  if (newestAge === undefined) return { status: 'warn', summary: t('doctor.offsite.none', { every }), evidence, fix: 'clawdfly logs  (the uploader says when it uploads)' };
  if (stale) return { status: 'warn', summary: t('doctor.offsite.old', { age: newest, every }), evidence, fix: 'clawdfly logs  (is the uploader running?)' };
  return { status: failingNow ? 'warn' : 'ok', summary: failingNow ? t('doctor.offsite.failing', { error: untrusted(String(status.lastError)).slice(0, 300), newest }) : t('doctor.offsite.ok', { age: newest, every }), evidence };
}
