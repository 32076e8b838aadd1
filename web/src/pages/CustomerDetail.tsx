// The borrower 360° view: profile (personal data masked, revealed on request with a
// reason), contact points, every loan with its delinquency state, and payment history.
import { useMemo, useState } from 'react';
import { Card, Col, Descriptions, Row, Space, Table, Tag, Typography, App } from 'antd';
import type { TableColumnsType } from 'antd';
import { Link, useParams } from 'react-router';
import { api, unwrap } from '../api/client';
import { revealCustomer } from '../api/reveal';
import type { ContactPoint, CustomerDetail as CustomerDetailType, LoanRow, Payment } from '../api/types';
import { useAuth } from '../auth/AuthContext';
import { can } from '../auth/permissions';
import { ApiErrorAlert } from '../components/ApiErrorAlert';
import { Money } from '../components/Money';
import { Page } from '../components/Page';
import { RevealButton } from '../components/RevealButton';
import { BucketTag, CategoryTag, StatusTag } from '../components/Tags';
import { formatDateTime } from '../format/format';
import { maskContact, maskIdNumber } from '../format/mask';
import { useApi } from '../hooks/useApi';
import { useI18n } from '../i18n/I18n';

interface Customer360 {
  customer: CustomerDetailType;
  loans: LoanRow[];
  payments: Payment[];
}

export async function loadCustomer360(ref: string, signal?: AbortSignal): Promise<Customer360> {
  const [customer, loans] = await Promise.all([
    unwrap(api.GET('/api/v1/customers/{customer_ref}', { params: { path: { customer_ref: ref } }, signal })),
    unwrap(
      api.GET('/api/v1/analytics/loans', {
        params: { query: { customer_ref: ref, page_size: 200, sort: 'disbursed_on' } },
        signal,
      }),
    ),
  ]);
  const pages = await Promise.all(
    customer.loans.map((loan) =>
      unwrap(
        api.GET('/api/v1/payments', {
          params: { query: { loan_ref: loan.loan_ref, page_size: 500, sort: '-value_date' } },
          signal,
        }),
      ),
    ),
  );
  const payments = pages
    .flatMap((page) => page.items)
    .sort((a, b) => (a.value_date < b.value_date ? 1 : a.value_date > b.value_date ? -1 : 0));
  return { customer, loans: loans.items, payments };
}

export default function CustomerDetail() {
  const { ref = '' } = useParams();
  const { t, tx } = useI18n();
  const { user } = useAuth();
  const { message } = App.useApp();
  const state = useApi((signal) => loadCustomer360(ref, signal), [ref]);
  const [revealed, setRevealed] = useState<{ id_number?: string; contacts: Record<number, string> }>({ contacts: {} });
  const mayReveal = can(user, 'customers:reveal');
  const customer = state.data?.customer;

  // one reveal shows the ID number and every contact value, and is one audit entry
  const reveal = async (reason: string) => {
    const answer = await revealCustomer(ref, reason);
    const contacts: Record<number, string> = {};
    for (const point of answer.contact_points) contacts[point.id] = point.value;
    setRevealed({ id_number: answer.id_number ?? undefined, contacts });
    void message.success(t('customers.revealed'));
  };
  const isRevealed = Object.keys(revealed.contacts).length > 0 || Boolean(revealed.id_number);

  const idShown = revealed.id_number ?? maskIdNumber(customer?.id_number);
  const canReveal = mayReveal && !isRevealed;

  const contactColumns = useMemo<TableColumnsType<ContactPoint>>(
    () => [
      { title: t('contact.kind'), dataIndex: 'kind', key: 'kind', width: 70, render: (v: string) => tx('contact.kind', v) },
      {
        title: t('contact.value'),
        key: 'value',
        render: (_: unknown, point) => {
          const shown = revealed.contacts[point.id];
          return (
            <Space size={4}>
              <span className="num" data-testid={`contact-${point.id}`}>{shown ?? maskContact(point.kind, point.value)}</span>
            </Space>
          );
        },
      },
      { title: t('contact.relation'), dataIndex: 'relation', key: 'relation', width: 100, render: (v: string) => tx('contact.relation', v) },
      { title: t('contact.name'), dataIndex: 'contact_name', key: 'contact_name', width: 100, render: (v: string | null) => v ?? '—' },
      { title: t('contact.status'), dataIndex: 'status', key: 'status', width: 90, render: (v: string) => <StatusTag prefix="contact.status" status={v} /> },
      { title: t('contact.primary'), dataIndex: 'is_primary', key: 'primary', width: 60, render: (v: boolean) => (v ? t('common.yes') : '') },
    ],
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [t, tx, revealed],
  );

  const loanColumns = useMemo<TableColumnsType<LoanRow>>(
    () => [
      { title: t('loans.ref'), dataIndex: 'loan_ref', key: 'ref', render: (v: string) => <Link to={`/loans/${encodeURIComponent(v)}`}>{v}</Link> },
      { title: t('loans.product'), dataIndex: 'product_code', key: 'product' },
      { title: t('loans.principal'), dataIndex: 'principal', key: 'principal', align: 'right', render: (v: string, row) => <Money value={v} currency={row.currency} /> },
      { title: t('loans.disbursedOn'), dataIndex: 'disbursed_on', key: 'disbursed', width: 100 },
      { title: t('loans.status'), dataIndex: 'status', key: 'status', render: (v: string) => <StatusTag prefix="loans.status" status={v} /> },
      { title: t('loans.dpd'), dataIndex: 'past_due_days', key: 'dpd', align: 'right', render: (v: number | null) => <span className="num">{v ?? '—'}</span> },
      { title: t('loans.bucket'), dataIndex: 'bucket', key: 'bucket', render: (v: string | null, row) => <BucketTag bucket={v} days={row.delinquent_days} /> },
      { title: t('loans.classification'), dataIndex: 'five_category', key: 'cat', render: (v) => <CategoryTag category={v} /> },
      { title: t('loans.overdue'), dataIndex: 'overdue_total', key: 'overdue', align: 'right', render: (v: string | null, row) => <Money value={v} currency={row.currency} /> },
      { title: t('loans.outstanding'), dataIndex: 'outstanding_total', key: 'outstanding', align: 'right', render: (v: string | null, row) => <Money value={v} currency={row.currency} /> },
    ],
    [t],
  );

  const paymentColumns = useMemo<TableColumnsType<Payment>>(
    () => [
      { title: t('pay.valueDate'), dataIndex: 'value_date', key: 'date', width: 100 },
      { title: t('pay.loan'), dataIndex: 'loan_ref', key: 'loan', render: (v: string) => <Link to={`/loans/${encodeURIComponent(v)}`}>{v}</Link> },
      { title: t('pay.ref'), dataIndex: 'payment_ref', key: 'ref' },
      { title: t('pay.amount'), dataIndex: 'amount', key: 'amount', align: 'right', render: (v: string, row) => <Money value={v} currency={row.currency} /> },
      { title: t('pay.channel'), dataIndex: 'channel', key: 'channel', render: (v: string) => tx('pay.channel', v) },
      { title: t('pay.status'), dataIndex: 'status', key: 'status', render: (v: string) => <StatusTag prefix="pay.status" status={v} /> },
      { title: t('pay.reversalReason'), dataIndex: 'reversal_reason', key: 'reason', render: (v: string | null) => v ?? '' },
    ],
    [t, tx],
  );

  return (
    <Page
      id="customer"
      title={
        <Space>
          {customer?.name ?? ref}
          <Typography.Text type="secondary" style={{ fontSize: 14 }}>{ref}</Typography.Text>
        </Space>
      }
      ready={!state.loading && !!state.data}
    >
      <ApiErrorAlert error={state.error} onRetry={state.reload} />
      {customer && state.data && (
        <Space orientation="vertical" size={12} style={{ width: '100%' }}>
          <Row gutter={[12, 12]}>
            <Col xs={24} xl={12}>
              <Card size="small" title={t('customers.profile')}>
                <Descriptions size="small" column={2} bordered>
                  <Descriptions.Item label={t('customers.name')}>{customer.name}</Descriptions.Item>
                  <Descriptions.Item label={t('customers.type')}>{tx('customers.type', customer.type)}</Descriptions.Item>
                  <Descriptions.Item label={t('customers.idNumber')} span={2}>
                    <Space size={4}>
                      <span className="num" data-testid="id-number">{idShown}</span>
                      {revealed.id_number && <Tag color="orange">{t('customers.revealed')}</Tag>}
                      {canReveal && customer.id_number && (
                        <RevealButton label={t('customers.idNumber')} onReveal={reveal} />
                      )}
                    </Space>
                  </Descriptions.Item>
                  <Descriptions.Item label={t('customers.city')}>{customer.city ?? '—'}</Descriptions.Item>
                  <Descriptions.Item label={t('customers.province')}>{customer.province ?? '—'}</Descriptions.Item>
                  <Descriptions.Item label={t('customers.employer')}>{customer.employer ?? '—'}</Descriptions.Item>
                  <Descriptions.Item label={t('customers.income')}>
                    <Money value={customer.monthly_income} currency={customer.income_currency ?? 'CNY'} />
                  </Descriptions.Item>
                  <Descriptions.Item label={t('customers.language')}>{customer.language}</Descriptions.Item>
                  <Descriptions.Item label={t('customers.timeZone')}>{customer.time_zone}</Descriptions.Item>
                  <Descriptions.Item label={t('customers.createdAt')} span={2}>{formatDateTime(customer.created_at)}</Descriptions.Item>
                </Descriptions>
              </Card>
            </Col>
            <Col xs={24} xl={12}>
              <Card
                size="small"
                title={t('customers.contacts')}
                extra={canReveal && customer.contact_points.length > 0 && <RevealButton label={t('customers.contacts')} onReveal={reveal} />}
              >
                <Table<ContactPoint>
                  size="small"
                  rowKey="id"
                  pagination={false}
                  aria-label={t('customers.contacts')}
                  dataSource={customer.contact_points}
                  columns={contactColumns}
                />
              </Card>
            </Col>
          </Row>
          <Card size="small" title={t('customers.loans')}>
            <Table<LoanRow>
              size="small"
              rowKey="loan_ref"
              pagination={false}
              aria-label={t('customers.loans')}
              dataSource={state.data.loans}
              columns={loanColumns}
            />
          </Card>
          <Card size="small" title={t('customers.payments')}>
            <Table<Payment>
              size="small"
              rowKey="payment_ref"
              aria-label={t('customers.payments')}
              dataSource={state.data.payments}
              columns={paymentColumns}
              pagination={{ pageSize: 20, size: 'small', hideOnSinglePage: true }}
              rowClassName={(row) => (row.status === 'reversed' ? 'row-overdue' : '')}
            />
          </Card>
        </Space>
      )}
    </Page>
  );
}
