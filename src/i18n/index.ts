/**
 * `t(key, params)`: a message in the chosen language, `{name}` placeholders filled in. English is
 * the source catalog and the fallback for a key another catalog lacks (test/i18n/catalogs.test.ts
 * fails on a missing key anyway). Only commands that speak a language import this module.
 */
import { en, type MessageKey } from './en.js';
import type { Locale } from './locale.js';

export type { MessageKey } from './en.js';
export type Catalog = Partial<Record<MessageKey, string>>;

let catalog: Catalog = en;
let current: Locale = 'en';

/** Loads a language's catalog (the English one is built in). cli.ts calls it before the command runs. */
export async function useLocale(locale: Locale): Promise<void> {
  current = locale;
  catalog = locale === 'zh-CN' ? (await import('./zh-CN.js')).zhCN : en;
}

export function currentLocale(): Locale {
  return current;
}

/** Fills `{name}` placeholders; a placeholder without a value stays as it is (visible, not blank). */
export function format(template: string, params: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** Whether the English catalog has this key (for keys built at run time, e.g. from a check id). */
export function translates(key: string): key is MessageKey {
  return Object.hasOwn(en, key);
}

export function t(key: MessageKey, params?: Record<string, string | number>): string {
  return format(catalog[key] ?? en[key], params);
}

/** The placeholders a message uses, sorted: what the catalog test compares across languages. */
export function placeholdersOf(template: string): string[] {
  return [...new Set([...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!))].sort();
}
