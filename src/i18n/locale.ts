/**
 * Which language the wizard, doctor, backup and restore speak. Cheap to import (no catalog): cli.ts decides the
 * locale before any command loads; the catalogs themselves load only when a command asks for text.
 */
import { UsageError } from '../errors.js';

export const LOCALES = ['en', 'zh-CN'] as const;
export type Locale = (typeof LOCALES)[number];

/** `--lang` values: a catalog's name, or a spelling people type for it (zh, zh_CN, zh-Hans …). */
export function parseLang(value: string): Locale {
  const v = value.trim().toLowerCase().replace('_', '-');
  if (v === 'en' || v.startsWith('en-') || v === 'c' || v === 'posix') return 'en';
  if (v === 'zh' || v.startsWith('zh-')) return 'zh-CN';
  throw new UsageError(`unsupported language "${value}"`, `--lang ${LOCALES.join(' or --lang ')}`, 'bad-lang');
}

/**
 * The locale from the environment, as gettext picks it: the first of LC_ALL, LC_MESSAGES, LANG that
 * is set and not empty decides (so LC_ALL=C wins over LANG=zh_CN.UTF-8). Chinese when it starts with `zh`.
 */
export function localeFromEnv(env: NodeJS.ProcessEnv = process.env): Locale {
  const chosen = [env['LC_ALL'], env['LC_MESSAGES'], env['LANG']].find((v) => v !== undefined && v !== '');
  return chosen?.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

/** `--lang` wins over the environment; `--json` output is for programs and is never translated. */
export function chooseLocale(opts: { lang?: unknown; json?: unknown }, env: NodeJS.ProcessEnv = process.env): Locale {
  const fromFlag = typeof opts.lang === 'string' ? parseLang(opts.lang) : undefined;
  if (opts.json === true) return 'en';
  return fromFlag ?? localeFromEnv(env);
}
