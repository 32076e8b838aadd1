// Which language the console speaks: Simplified Chinese by default, English on request
// (remembered in this browser). `useI18n().t(key, values)` looks words up.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { LOCALES, MESSAGES, type Locale, type MessageKey } from './messages';

const STORAGE_KEY = 'arrears.locale';

export interface I18n {
  locale: Locale;
  setLocale: (locale: Locale) => void;
  t: (key: MessageKey, values?: Record<string, string | number>) => string;
  /** A key built at run time (an enum value); falls back to the value itself. */
  tx: (prefix: string, value: string | null | undefined) => string;
}

function initialLocale(): Locale {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored && (LOCALES as string[]).includes(stored)) return stored as Locale;
  } catch {
    // no storage: the default
  }
  return 'zh-CN';
}

export function translate(
  locale: Locale,
  key: MessageKey,
  values?: Record<string, string | number>,
): string {
  const text = MESSAGES[locale][key] ?? key;
  if (!values) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole,
  );
}

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ children, locale: fixed }: { children: ReactNode; locale?: Locale }) {
  const [locale, setLocaleState] = useState<Locale>(fixed ?? initialLocale());
  const setLocale = useCallback((next: Locale) => {
    setLocaleState(next);
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // not remembered; still switched
    }
    document.documentElement.lang = next;
  }, []);
  const value = useMemo<I18n>(
    () => ({
      locale,
      setLocale,
      t: (key, values) => translate(locale, key, values),
      tx: (prefix, raw) => {
        if (raw === null || raw === undefined || raw === '') return '—';
        const key = `${prefix}.${raw}` as MessageKey;
        return key in MESSAGES[locale] ? MESSAGES[locale][key] : raw;
      },
    }),
    [locale, setLocale],
  );
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const context = useContext(I18nContext);
  if (!context) throw new Error('useI18n outside I18nProvider');
  return context;
}
