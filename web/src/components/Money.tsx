import { useI18n } from '../i18n/I18n';
import { formatMoney, formatNumber, formatPercent } from '../format/format';

/** An amount in its currency, formatted for the locale (¥1,234.56); tabular digits. */
export function Money({ value, currency = 'CNY', strong }: { value: string | null | undefined; currency?: string; strong?: boolean }) {
  const { locale } = useI18n();
  const text = formatMoney(value, currency, locale);
  return <span className={strong ? 'num num-strong' : 'num'}>{text}</span>;
}

/** A fraction as a percentage (0.0912 → 9.12%). */
export function Percent({ value, digits = 2 }: { value: string | number | null | undefined; digits?: number }) {
  const { locale } = useI18n();
  return <span className="num">{formatPercent(value, locale, digits)}</span>;
}

/** A count with grouping. */
export function Count({ value }: { value: number | string | null | undefined }) {
  const { locale } = useI18n();
  return <span className="num">{formatNumber(value, locale)}</span>;
}
