// The loan list: filters (product, bucket, DPD range, classification, status, reference)
// and sorting, all done by the server, one page at a time — fine over a million loans.
// Filters live in the address, so a filtered list can be bookmarked or shared.
import { useMemo } from 'react';
import { Button, Card, Form, Input, InputNumber, Select, Space } from 'antd';
import type { TableColumnsType } from 'antd';
import { Link, useSearchParams } from 'react-router';
import { api, unwrap } from '../api/client';
import type { FiveCategoryKey, LoanRow } from '../api/types';
import { useAuth } from '../auth/AuthContext';
import { can } from '../auth/permissions';
import { DataTable } from '../components/DataTable';
import { Money } from '../components/Money';
import { Page } from '../components/Page';
import { BucketTag, CategoryTag, StatusTag } from '../components/Tags';
import { useApi } from '../hooks/useApi';
import { useI18n } from '../i18n/I18n';

export const CATEGORIES: FiveCategoryKey[] = ['normal', 'special_mention', 'substandard', 'doubtful', 'loss'];
const DEFAULT_BUCKETS = ['M0', 'M1', 'M2', 'M3', 'M4', 'M5', 'M6', 'M7'];
type Status = 'active' | 'closed' | 'written_off';

export interface LoanFilters {
  product_code?: string;
  bucket?: string[];
  dpd_min?: number;
  dpd_max?: number;
  classification?: FiveCategoryKey[];
  status?: Status;
  q?: string;
}

/** The filters in the address (?bucket=M1&bucket=M2&dpd_min=31…). */
export function filtersFrom(params: URLSearchParams): LoanFilters {
  const number = (name: string) => {
    const raw = params.get(name);
    if (raw === null || raw === '') return undefined;
    const value = Number.parseInt(raw, 10);
    return Number.isFinite(value) && value >= 0 ? value : undefined;
  };
  const list = (name: string) => {
    const values = params.getAll(name).filter(Boolean);
    return values.length ? values : undefined;
  };
  return {
    product_code: params.get('product') || undefined,
    bucket: list('bucket'),
    dpd_min: number('dpd_min'),
    dpd_max: number('dpd_max'),
    classification: list('classification')?.filter((c): c is FiveCategoryKey => (CATEGORIES as string[]).includes(c)),
    status: (params.get('status') as Status | null) || undefined,
    q: params.get('q') || undefined,
  };
}

/** The filters written back into the address; paging restarts at page 1. */
export function filtersTo(params: URLSearchParams, filters: LoanFilters): URLSearchParams {
  const next = new URLSearchParams(params);
  for (const name of ['product', 'bucket', 'dpd_min', 'dpd_max', 'classification', 'status', 'q', 'page']) {
    next.delete(name);
  }
  if (filters.product_code) next.set('product', filters.product_code);
  for (const bucket of filters.bucket ?? []) next.append('bucket', bucket);
  if (filters.dpd_min !== undefined && filters.dpd_min !== null) next.set('dpd_min', String(filters.dpd_min));
  if (filters.dpd_max !== undefined && filters.dpd_max !== null) next.set('dpd_max', String(filters.dpd_max));
  for (const category of filters.classification ?? []) next.append('classification', category);
  if (filters.status) next.set('status', filters.status);
  if (filters.q) next.set('q', filters.q.trim());
  return next;
}

export default function Loans() {
  const { t, tx } = useI18n();
  const { user } = useAuth();
  const [params, setParams] = useSearchParams();
  const filters = filtersFrom(params);
  const [form] = Form.useForm<LoanFilters>();
  const products = useApi(
    (signal) =>
      can(user, 'products:read')
        ? unwrap(api.GET('/api/v1/products', { params: { query: { page_size: 500 } }, signal }))
        : Promise.resolve({ items: [], total: 0, page: 1, page_size: 500 }),
    [],
  );
  const bucketCodes = useMemo(() => {
    const codes = new Set<string>();
    for (const product of products.data?.items ?? []) for (const b of product.buckets ?? []) codes.add(b.code);
    return codes.size ? [...codes] : DEFAULT_BUCKETS;
  }, [products.data]);

  const columns = useMemo<TableColumnsType<LoanRow>>(
    () => [
      {
        title: t('loans.ref'),
        dataIndex: 'loan_ref',
        key: 'loan_ref',
        sorter: true,
        width: 130,
        render: (v: string) => <Link to={`/loans/${encodeURIComponent(v)}`}>{v}</Link>,
      },
      {
        title: t('loans.customer'),
        key: 'customer',
        width: 150,
        render: (_: unknown, row) =>
          row.customer_ref ? (
            <Link to={`/customers/${encodeURIComponent(row.customer_ref)}`}>
              {row.customer_name ?? row.customer_ref}
            </Link>
          ) : (
            '—'
          ),
      },
      { title: t('loans.product'), dataIndex: 'product_code', key: 'product', width: 90 },
      { title: t('loans.principal'), dataIndex: 'principal', key: 'principal', sorter: true, align: 'right', width: 120, render: (v: string, row) => <Money value={v} currency={row.currency} /> },
      { title: t('loans.outstanding'), dataIndex: 'outstanding_total', key: 'outstanding', sorter: true, align: 'right', width: 120, render: (v: string | null, row) => <Money value={v} currency={row.currency} /> },
      { title: t('loans.overdue'), dataIndex: 'overdue_total', key: 'overdue', sorter: true, align: 'right', width: 110, render: (v: string | null, row) => <Money value={v} currency={row.currency} /> },
      { title: t('loans.dpd'), dataIndex: 'past_due_days', key: 'past_due_days', sorter: true, align: 'right', width: 90, render: (v: number | null) => <span className="num">{v ?? '—'}</span> },
      { title: t('loans.bucket'), dataIndex: 'bucket', key: 'bucket', sorter: true, width: 70, render: (v: string | null, row) => <BucketTag bucket={v} days={row.delinquent_days} /> },
      { title: t('loans.classification'), dataIndex: 'five_category', key: 'five_category', sorter: true, width: 90, render: (v) => <CategoryTag category={v} /> },
      { title: t('loans.status'), dataIndex: 'status', key: 'status', width: 90, render: (v: string) => <StatusTag prefix="loans.status" status={v} /> },
      { title: t('loans.disbursedOn'), dataIndex: 'disbursed_on', key: 'disbursed_on', sorter: true, width: 100 },
      { title: t('loans.term'), dataIndex: 'term_months', key: 'term', align: 'right', width: 60 },
    ],
    [t],
  );

  const apply = (values: LoanFilters) => setParams(filtersTo(params, values));
  const reset = () => {
    form.resetFields();
    setParams(filtersTo(params, {}));
  };

  return (
    <Page id="loans" title={t('loans.title')} ready={!products.loading}>
      <Card size="small" style={{ marginBottom: 12 }}>
        <Form<LoanFilters>
          form={form}
          layout="inline"
          className="filters"
          initialValues={filters}
          onFinish={apply}
          aria-label={t('common.filters')}
          key={params.toString() /* re-read when the address changes (Back) */}
        >
          <Form.Item name="q" label={t('loans.ref')}>
            <Input placeholder={t('loans.searchRef')} allowClear style={{ width: 150 }} />
          </Form.Item>
          <Form.Item name="product_code" label={t('loans.product')}>
            <Select
              allowClear
              style={{ width: 150 }}
              loading={products.loading}
              options={(products.data?.items ?? []).map((p) => ({ value: p.code, label: `${p.code} ${p.name}` }))}
            />
          </Form.Item>
          <Form.Item name="bucket" label={t('loans.bucket')}>
            <Select mode="multiple" allowClear style={{ minWidth: 150 }} options={bucketCodes.map((b) => ({ value: b, label: b }))} data-testid="bucket-filter" />
          </Form.Item>
          <Form.Item label={t('loans.dpdRange')}>
            <Space.Compact>
              <Form.Item name="dpd_min" noStyle>
                <InputNumber min={0} max={100000} placeholder={t('loans.dpdMin')} aria-label={`${t('loans.dpdRange')} ${t('loans.dpdMin')}`} style={{ width: 80 }} />
              </Form.Item>
              <Form.Item name="dpd_max" noStyle>
                <InputNumber min={0} max={100000} placeholder={t('loans.dpdMax')} aria-label={`${t('loans.dpdRange')} ${t('loans.dpdMax')}`} style={{ width: 80 }} />
              </Form.Item>
            </Space.Compact>
          </Form.Item>
          <Form.Item name="classification" label={t('loans.classification')}>
            <Select mode="multiple" allowClear style={{ minWidth: 150 }} options={CATEGORIES.map((c) => ({ value: c, label: tx('category', c) }))} />
          </Form.Item>
          <Form.Item name="status" label={t('loans.status')}>
            <Select
              allowClear
              style={{ width: 110 }}
              options={(['active', 'closed', 'written_off'] as const).map((s) => ({ value: s, label: tx('loans.status', s) }))}
            />
          </Form.Item>
          <Form.Item>
            <Space>
              <Button type="primary" htmlType="submit" data-testid="apply-filters">
                {t('common.search')}
              </Button>
              <Button onClick={reset}>{t('common.reset')}</Button>
            </Space>
          </Form.Item>
        </Form>
      </Card>
      <DataTable<LoanRow>
        label={t('loans.title')}
        columns={columns}
        rowKey={(row) => row.loan_ref}
        defaultPageSize={20}
        deps={[JSON.stringify(filters)]}
        load={({ page, page_size, sort }, signal) =>
          unwrap(
            api.GET('/api/v1/analytics/loans', {
              params: { query: { page, page_size, sort, ...filters } },
              signal,
            }),
          )
        }
      />
    </Page>
  );
}
