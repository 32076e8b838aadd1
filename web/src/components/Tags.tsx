// Coloured tags for the states collectors scan for: bucket, five-category class, statuses.
// Plain spans styled in styles.css rather than antd <Tag>: a page of loans shows 150 of
// them, and a span costs nothing to render. Colour is never the only cue: the text is there.
import type { FiveCategoryKey } from '../api/types';
import { useI18n } from '../i18n/I18n';

export type TagColour = 'green' | 'gold' | 'orange' | 'volcano' | 'red' | 'blue' | 'grey';

export function Pill({ colour, children }: { colour: TagColour; children: React.ReactNode }) {
  return <span className={`pill pill-${colour}`}>{children}</span>;
}

const CATEGORY_COLOURS: Record<FiveCategoryKey, TagColour> = {
  normal: 'green',
  special_mention: 'gold',
  substandard: 'orange',
  doubtful: 'volcano',
  loss: 'red',
};

export function CategoryTag({ category }: { category: FiveCategoryKey | null | undefined }) {
  const { tx } = useI18n();
  if (!category) return <span>—</span>;
  return <Pill colour={CATEGORY_COLOURS[category]}>{tx('category', category)}</Pill>;
}

/** Buckets grow redder with the days overdue (M0 current … M7 181+). */
export function bucketColour(bucket: string | null | undefined, delinquentDays?: number | null): TagColour {
  const days = delinquentDays ?? null;
  const index = bucket ? Number.parseInt(bucket.replace(/\D+/g, ''), 10) : Number.NaN;
  const level = Number.isFinite(index) ? index : days === null ? 0 : Math.ceil(days / 30);
  if (level <= 0) return 'green';
  if (level === 1) return 'gold';
  if (level === 2) return 'orange';
  if (level === 3) return 'volcano';
  return 'red';
}

export function BucketTag({ bucket, days }: { bucket: string | null | undefined; days?: number | null }) {
  if (!bucket) return <span>—</span>;
  return <Pill colour={bucketColour(bucket, days)}>{bucket}</Pill>;
}

const STATUS_COLOURS: Record<string, TagColour> = {
  active: 'blue',
  closed: 'grey',
  written_off: 'red',
  posted: 'green',
  reversed: 'red',
  running: 'blue',
  completed: 'green',
  failed: 'red',
  checked: 'blue',
  committed: 'green',
  rejected: 'red',
  valid: 'green',
  wrong_number: 'red',
  opted_out: 'grey',
};

export function StatusTag({ prefix, status }: { prefix: string; status: string | null | undefined }) {
  const { tx } = useI18n();
  if (!status) return <span>—</span>;
  return <Pill colour={STATUS_COLOURS[status] ?? 'grey'}>{tx(prefix, status)}</Pill>;
}
