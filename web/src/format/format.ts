// Numbers, money, ratios and dates for the current locale. Amounts arrive as decimal
// strings and are formatted as strings, so no float rounds them (¥1,234.56).
import type { Locale } from '../i18n/messages';

const cache = new Map<string, Intl.NumberFormat>();

function numberFormat(locale: Locale, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `${locale}|${JSON.stringify(options)}`;
  let format = cache.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale, options);
    cache.set(key, format);
  }
  return format;
}

type Numeric = string | number | null | undefined;

function numeric(value: Numeric): string | number | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  return /^-?\d+(\.\d+)?$/.test(value.trim()) ? value.trim() : null;
}

/** Intl formats decimal strings exactly; the cast is for older lib typings. */
function formatExact(format: Intl.NumberFormat, value: string | number): string {
  return format.format(value as unknown as number);
}

/** `"1234.5"`, CNY → `¥1,234.50` (zh-CN) or `¥1,234.50` (en-US). */
export function formatMoney(value: Numeric, currency: string, locale: Locale): string {
  const amount = numeric(value);
  if (amount === null) return '—';
  let format: Intl.NumberFormat;
  try {
    format = numberFormat(locale, { style: 'currency', currency, currencyDisplay: 'narrowSymbol' });
  } catch {
    format = numberFormat(locale, { style: 'currency', currency: 'CNY', currencyDisplay: 'narrowSymbol' });
  }
  return formatExact(format, amount);
}

/** An integer or decimal with grouping: `1234567` → `1,234,567`. */
export function formatNumber(value: Numeric, locale: Locale, fractionDigits = 0): string {
  const amount = numeric(value);
  if (amount === null) return '—';
  return formatExact(
    numberFormat(locale, { minimumFractionDigits: fractionDigits, maximumFractionDigits: fractionDigits }),
    amount,
  );
}

/** A fraction as a percentage: `"0.091200"` → `9.12%`. */
export function formatPercent(value: Numeric, locale: Locale, fractionDigits = 2): string {
  const amount = numeric(value);
  if (amount === null) return '—';
  return formatExact(
    numberFormat(locale, {
      style: 'percent',
      minimumFractionDigits: fractionDigits,
      maximumFractionDigits: fractionDigits,
    }),
    amount,
  );
}

/** A compact amount for chart axes: `12345678` → `1,234.57万` (zh) or `12.35M` (en). */
export function formatCompact(value: number, locale: Locale): string {
  return numberFormat(locale, { notation: 'compact', maximumFractionDigits: 2 }).format(value);
}

/** A rate in percent per year: `"4.9"` → `4.9%`. */
export function formatAnnualRate(value: Numeric, locale: Locale): string {
  const amount = numeric(value);
  if (amount === null) return '—';
  return `${formatExact(numberFormat(locale, { maximumFractionDigits: 6 }), amount)}%`;
}

/** An ISO timestamp in local time, `2026-03-02 17:05:09`. */
export function formatDateTime(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** A decimal string as a number, for charts only (never for money arithmetic shown to people). */
export function toChartNumber(value: Numeric): number {
  const amount = numeric(value);
  return amount === null ? 0 : Number(amount);
}
