/**
 * The message catalogs (src/i18n): every key in every language, with the same placeholders; English
 * is the fallback for a key a catalog lacks; the locale comes from --lang, then LC_ALL, LC_MESSAGES,
 * LANG (gettext's order), and --json is never translated.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { en } from '../../src/i18n/en.js';
import { zhCN } from '../../src/i18n/zh-CN.js';
import { format, placeholdersOf, t, useLocale } from '../../src/i18n/index.js';
import { chooseLocale, localeFromEnv, parseLang } from '../../src/i18n/locale.js';
import { CHECKS } from '../../src/doctor/checks/index.js';
import { UsageError } from '../../src/errors.js';

/** What differs between two catalogs: keys only in one, and keys whose placeholders differ. */
export function catalogDifferences(source: Record<string, string>, other: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(source)) {
    if (!(key in other)) problems.push(`missing key ${key}`);
    else if (placeholdersOf(source[key]!).join(',') !== placeholdersOf(other[key]!).join(',')) {
      problems.push(`${key}: placeholders {${placeholdersOf(source[key]!).join('}, {')}} vs {${placeholdersOf(other[key]!).join('}, {')}}`);
    }
  }
  for (const key of Object.keys(other)) if (!(key in source)) problems.push(`extra key ${key}`);
  return problems;
}

afterEach(async () => {
  await useLocale('en');
});

describe('catalogs', () => {
  it('zh-CN has every English key, no other, with the same placeholders', () => {
    expect(catalogDifferences(en, zhCN)).toEqual([]);
  });

  it('the comparison sees a missing key and a lost placeholder (control)', () => {
    const { ['init.ready']: _dropped, ...missing } = zhCN;
    expect(catalogDifferences(en, missing)).toEqual(['missing key init.ready']);
    const renamed = { ...zhCN, 'init.ready': '{app} 已就绪' };
    expect(catalogDifferences(en, renamed)).toEqual(['init.ready: placeholders {app}, {region} vs {app}']);
  });

  it('zh-CN really is another language: no message is left in English', () => {
    // Messages that are a tool's name or a config key with values, nothing to translate.
    const NEUTRAL = ['doctor.flyctl.ok', 'doctor.bind.okMachine'];
    const same = Object.keys(en).filter((k) => en[k as keyof typeof en] === zhCN[k as keyof typeof en]);
    expect(same.sort()).toEqual([...NEUTRAL].sort());
    // Every message with words (beyond its placeholders) has Chinese in it.
    for (const [key, text] of Object.entries(zhCN)) {
      if (NEUTRAL.includes(key)) continue;
      if (/[A-Za-z]/.test(text.replace(/\{\w+\}/g, ''))) expect(/[\u4e00-\u9fff]/.test(text), key).toBe(true);
    }
  });

  it('every doctor check has a title in the catalog, equal to its own English title', () => {
    for (const check of CHECKS) expect(en[`doctor.title.${check.id}` as keyof typeof en], check.id).toBe(check.title);
  });

  it('t() fills placeholders in the chosen language and falls back to English for a missing key', async () => {
    expect(t('init.ready', { app: 'a', region: 'nrt' })).toBe('Project ready for a in nrt.');
    await useLocale('zh-CN');
    expect(t('init.ready', { app: 'a', region: 'nrt' })).toBe('a 的项目已就绪，区域 nrt。');
    const key = 'init.ready';
    const saved = zhCN[key];
    delete (zhCN as Partial<typeof zhCN>)[key];
    try {
      expect(t(key, { app: 'a', region: 'nrt' })).toBe('Project ready for a in nrt.');
    } finally {
      zhCN[key] = saved;
    }
  });

  it('format() keeps a placeholder without a value visible', () => {
    expect(format('{a} and {b}', { a: 1 })).toBe('1 and {b}');
  });
});

describe('locale', () => {
  it('LC_ALL beats LC_MESSAGES beats LANG; the first set and non-empty one decides', () => {
    expect(localeFromEnv({ LANG: 'zh_CN.UTF-8' })).toBe('zh-CN');
    expect(localeFromEnv({ LANG: 'C' })).toBe('en');
    expect(localeFromEnv({ LC_ALL: 'C', LANG: 'zh_CN.UTF-8' })).toBe('en');
    expect(localeFromEnv({ LC_MESSAGES: 'zh_TW.UTF-8', LANG: 'en_US.UTF-8' })).toBe('zh-CN');
    expect(localeFromEnv({ LC_ALL: '', LC_MESSAGES: 'en_GB.UTF-8', LANG: 'zh_CN.UTF-8' })).toBe('en');
    expect(localeFromEnv({})).toBe('en');
  });

  it('--lang beats the environment; --json is always English', () => {
    expect(chooseLocale({ lang: 'zh-CN' }, { LANG: 'C' })).toBe('zh-CN');
    expect(chooseLocale({ lang: 'en' }, { LANG: 'zh_CN.UTF-8' })).toBe('en');
    expect(chooseLocale({ json: true }, { LANG: 'zh_CN.UTF-8' })).toBe('en');
    expect(chooseLocale({ lang: 'zh', json: true }, {})).toBe('en');
  });

  it('--lang takes the usual spellings and refuses others with exit-2 usage errors', () => {
    for (const spelling of ['zh-CN', 'zh_CN', 'zh', 'ZH-cn', 'zh-Hans']) expect(parseLang(spelling)).toBe('zh-CN');
    for (const spelling of ['en', 'en-US', 'C']) expect(parseLang(spelling)).toBe('en');
    expect(() => parseLang('klingon')).toThrow(UsageError);
  });
});
