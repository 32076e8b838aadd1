// Customer search: one box for name, phone, ID number (matched exactly, via the server's
// blind index) or customer reference; the kind of query is detected, or chosen.
import { useMemo, useState } from 'react';
import { Card, Input, Select, Space, Typography } from 'antd';
import type { TableColumnsType } from 'antd';
import { Link, useSearchParams } from 'react-router';
import { api, unwrap } from '../api/client';
import type { Customer } from '../api/types';
import { DataTable } from '../components/DataTable';
import { Page } from '../components/Page';
import { maskIdNumber, maskPhone } from '../format/mask';
import { formatDateTime } from '../format/format';
import { useI18n } from '../i18n/I18n';

export type SearchBy = 'auto' | 'name' | 'phone' | 'id';

const ID_NUMBER = /^(\d{17}[\dXx]|\d{15}|[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})$/;
const PHONE = /^\+?[\d\s()-]{7,20}$/;

/** What a search box entry is: an ID number, a phone number, or a name / reference. */
export function detectSearch(text: string): Exclude<SearchBy, 'auto'> {
  const value = text.trim();
  if (ID_NUMBER.test(value.toUpperCase())) return 'id';
  if (PHONE.test(value) && value.replace(/\D/g, '').length >= 7) return 'phone';
  return 'name';
}

/** The query parameters of GET /customers for a search box entry. */
export function customerQuery(text: string, by: SearchBy): { q?: string; phone?: string; id_number?: string } {
  const value = text.trim();
  if (!value) return {};
  const kind = by === 'auto' ? detectSearch(value) : by;
  if (kind === 'id') return { id_number: value.toUpperCase() };
  if (kind === 'phone') return { phone: value };
  return { q: value };
}

export default function Customers() {
  const { t, tx } = useI18n();
  const [params, setParams] = useSearchParams();
  const text = params.get('q') ?? '';
  const by = (params.get('by') as SearchBy | null) ?? 'auto';
  const [draft, setDraft] = useState(text);

  const search = (value: string) => {
    const next = new URLSearchParams(params);
    if (value.trim()) next.set('q', value.trim());
    else next.delete('q');
    next.delete('page');
    setParams(next);
  };

  const columns = useMemo<TableColumnsType<Customer>>(
    () => [
      {
        title: t('customers.ref'),
        dataIndex: 'customer_ref',
        key: 'customer_ref',
        sorter: true,
        width: 130,
        render: (ref: string) => <Link to={`/customers/${encodeURIComponent(ref)}`}>{ref}</Link>,
      },
      { title: t('customers.name'), dataIndex: 'name', key: 'name', sorter: true },
      { title: t('customers.type'), dataIndex: 'type', key: 'type', width: 80, render: (v: string) => tx('customers.type', v) },
      {
        title: t('customers.idNumber'),
        dataIndex: 'id_number',
        key: 'id_number',
        render: (v: string | null) => <span className="num">{maskIdNumber(v)}</span>,
      },
      {
        title: t('customers.phone'),
        key: 'phone',
        render: (_: unknown, row) => {
          const phone = row.contact_points.find((p) => p.kind === 'phone' && p.is_primary) ??
            row.contact_points.find((p) => p.kind === 'phone');
          return <span className="num">{maskPhone(phone?.value)}</span>;
        },
      },
      { title: t('customers.city'), dataIndex: 'city', key: 'city', sorter: true, width: 100 },
      { title: t('customers.province'), dataIndex: 'province', key: 'province', width: 100 },
      {
        title: t('customers.createdAt'),
        dataIndex: 'created_at',
        key: 'created_at',
        sorter: true,
        width: 160,
        render: (v: string) => formatDateTime(v),
      },
    ],
    [t, tx],
  );

  const query = customerQuery(text, by);

  return (
    <Page id="customers" title={t('customers.title')} ready={true}>
      <Card size="small" style={{ marginBottom: 12 }}>
        <Space.Compact style={{ width: '100%', maxWidth: 720 }}>
          <Select<SearchBy>
            aria-label={t('customers.searchBy')}
            value={by}
            style={{ width: 130 }}
            onChange={(value) => {
              const next = new URLSearchParams(params);
              next.set('by', value);
              next.delete('page');
              setParams(next);
            }}
            options={[
              { value: 'auto', label: t('customers.by.auto') },
              { value: 'name', label: t('customers.by.name') },
              { value: 'phone', label: t('customers.by.phone') },
              { value: 'id', label: t('customers.by.id') },
            ]}
          />
          <Input.Search
            aria-label={t('customers.searchPlaceholder')}
            placeholder={t('customers.searchPlaceholder')}
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
            onSearch={search}
            enterButton={t('common.search')}
            allowClear
            data-testid="customer-search"
          />
        </Space.Compact>
        <Typography.Paragraph type="secondary" style={{ margin: '6px 0 0' }}>
          {t('customers.searchHint')}
        </Typography.Paragraph>
      </Card>
      <DataTable<Customer>
        label={t('customers.title')}
        columns={columns}
        rowKey={(row) => row.customer_ref}
        defaultPageSize={20}
        deps={[query.q, query.phone, query.id_number]}
        load={({ page, page_size, sort }, signal) =>
          unwrap(api.GET('/api/v1/customers', { params: { query: { page, page_size, sort, ...query } }, signal }))
        }
      />
    </Page>
  );
}
