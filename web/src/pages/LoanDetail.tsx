// One loan: its terms and delinquency state, the schedule (paid, outstanding, overdue per
// installment), payments and reversals, holds, and past-due days over time.
import { useMemo } from 'react';
import { Card, Col, Descriptions, Empty, Row, Space, Table, Tabs } from 'antd';
import type { TableColumnsType } from 'antd';
import { Link, useParams } from 'react-router';
import { api, unwrap } from '../api/client';
import type { Hold, Installment, LoanHistory, LoanView, Payment } from '../api/types';
import { ApiErrorAlert } from '../components/ApiErrorAlert';
import { Chart, PALETTE, type ChartOption } from '../components/Chart';
import { Money } from '../components/Money';
import { Page } from '../components/Page';
import { BucketTag, CategoryTag, Pill, StatusTag, type TagColour } from '../components/Tags';
import { formatAnnualRate, formatDateTime, toChartNumber } from '../format/format';
import { useApi } from '../hooks/useApi';
import { useI18n } from '../i18n/I18n';

interface LoanPageData {
  loan: LoanView;
  payments: Payment[];
  history: LoanHistory;
}

export async function loadLoan(ref: string, signal?: AbortSignal): Promise<LoanPageData> {
  const path = { loan_ref: ref };
  const [loan, payments, history] = await Promise.all([
    unwrap(api.GET('/api/v1/loans/{loan_ref}', { params: { path }, signal })),
    unwrap(api.GET('/api/v1/payments', { params: { query: { loan_ref: ref, page_size: 500, sort: '-value_date' } }, signal })),
    unwrap(api.GET('/api/v1/analytics/loans/{loan_ref}/history', { params: { path }, signal })),
  ]);
  return { loan: loan as LoanView, payments: payments.items, history };
}

export type InstallmentState = 'paid' | 'overdue' | 'partial' | 'due';

/** What an installment looks like as of the loan's business date. */
export function installmentState(row: Installment, asOf: string | undefined): InstallmentState {
  const owed = Number(row.outstanding.total);
  if (owed <= 0) return 'paid';
  if (asOf && row.due_date < asOf) return 'overdue';
  return Number(row.paid.principal) + Number(row.paid.interest) > 0 ? 'partial' : 'due';
}

const STATE_COLOURS: Record<InstallmentState, TagColour> = { paid: 'green', overdue: 'red', partial: 'gold', due: 'grey' };

function paidTotal(row: Installment): string {
  const parts = [row.paid.principal, row.paid.interest, row.paid.fee, (row.paid as Record<string, string>).penalty ?? '0'];
  const cents = parts.reduce((sum, part) => sum + Math.round(Number(part) * 100), 0);
  return (cents / 100).toFixed(2);
}

export default function LoanDetail() {
  const { ref = '' } = useParams();
  const { t, tx, locale } = useI18n();
  const state = useApi((signal) => loadLoan(ref, signal), [ref]);
  const loan = state.data?.loan;
  const currency = loan?.currency ?? 'CNY';

  const scheduleColumns = useMemo<TableColumnsType<Installment>>(
    () => [
      { title: t('inst.number'), dataIndex: 'number', key: 'n', width: 56, align: 'right' },
      { title: t('inst.dueDate'), dataIndex: 'due_date', key: 'due', width: 100 },
      { title: t('inst.principal'), dataIndex: 'principal', key: 'p', align: 'right', render: (v: string) => <Money value={v} currency={currency} /> },
      { title: t('inst.interest'), dataIndex: 'interest', key: 'i', align: 'right', render: (v: string) => <Money value={v} currency={currency} /> },
      { title: t('inst.fee'), dataIndex: 'fee', key: 'f', align: 'right', render: (v: string) => <Money value={v} currency={currency} /> },
      { title: t('inst.total'), dataIndex: 'total', key: 't', align: 'right', render: (v: string) => <Money value={v} currency={currency} strong /> },
      { title: t('inst.paid'), key: 'paid', align: 'right', render: (_: unknown, row) => <Money value={paidTotal(row)} currency={currency} /> },
      {
        title: t('inst.penalty'),
        key: 'pen',
        align: 'right',
        render: (_: unknown, row) => <Money value={(row.outstanding as Record<string, string>).penalty ?? '0'} currency={currency} />,
      },
      { title: t('inst.outstanding'), key: 'out', align: 'right', render: (_: unknown, row) => <Money value={row.outstanding.total} currency={currency} strong /> },
      {
        title: t('inst.state'),
        key: 'state',
        width: 90,
        render: (_: unknown, row) => {
          const s = installmentState(row, loan?.as_of);
          return <Pill colour={STATE_COLOURS[s]}>{tx('inst.state', s)}</Pill>;
        },
      },
    ],
    [t, tx, currency, loan?.as_of],
  );

  const paymentColumns = useMemo<TableColumnsType<Payment>>(
    () => [
      { title: t('pay.valueDate'), dataIndex: 'value_date', key: 'd', width: 100 },
      { title: t('pay.ref'), dataIndex: 'payment_ref', key: 'r' },
      { title: t('pay.amount'), dataIndex: 'amount', key: 'a', align: 'right', render: (v: string) => <Money value={v} currency={currency} /> },
      { title: t('pay.channel'), dataIndex: 'channel', key: 'c', render: (v: string) => tx('pay.channel', v) },
      { title: t('pay.status'), dataIndex: 'status', key: 's', render: (v: string) => <StatusTag prefix="pay.status" status={v} /> },
      { title: t('pay.reversedAt'), dataIndex: 'reversed_at', key: 'ra', render: (v: string | null) => (v ? formatDateTime(v) : '') },
      { title: t('pay.reversalReason'), dataIndex: 'reversal_reason', key: 'rr', render: (v: string | null) => v ?? '' },
    ],
    [t, tx, currency],
  );

  const holdColumns = useMemo<TableColumnsType<Hold>>(
    () => [
      { title: t('hold.reason'), dataIndex: 'reason', key: 'r', render: (v: string) => tx('hold.reason', v) },
      { title: t('hold.start'), dataIndex: 'start_on', key: 's' },
      { title: t('hold.end'), dataIndex: 'end_on', key: 'e', render: (v: string | null) => v ?? <Pill colour="blue">{t('hold.open')}</Pill> },
      { title: t('hold.note'), dataIndex: 'note', key: 'n', render: (v: string | null | undefined) => v ?? '' },
    ],
    [t, tx],
  );

  const historyOption = useMemo<ChartOption>(() => {
    const items = state.data?.history.items ?? [];
    return {
      color: [PALETTE[2], PALETTE[0]],
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 48, right: 56, top: 32, bottom: 48 },
      dataZoom: items.length > 60 ? [{ type: 'slider', height: 16, bottom: 8 }] : [],
      xAxis: { type: 'category', data: items.map((p) => p.as_of) },
      yAxis: [
        { type: 'value', name: t('loans.dpd'), minInterval: 1 },
        { type: 'value', name: t('loans.overdue') },
      ],
      series: [
        {
          name: t('loans.dpd'),
          type: 'line',
          step: 'end',
          data: items.map((p) => p.past_due_days),
          markLine: {
            silent: true,
            symbol: 'none',
            lineStyle: { type: 'dashed', color: '#bfbfbf' },
            data: [30, 60, 90]
              .filter((y) => y <= Math.max(30, ...items.map((p) => p.past_due_days)))
              .map((y) => ({ yAxis: y, label: { formatter: `${y}`, position: 'insideStartTop' } })),
          },
        },
        { name: t('loans.overdue'), type: 'bar', yAxisIndex: 1, barMaxWidth: 8, data: items.map((p) => toChartNumber(p.overdue_total)) },
      ],
    };
  }, [state.data, t]);

  return (
    <Page id="loan" title={`${t('loans.ref')} ${ref}`} ready={!state.loading && !!state.data}>
      <ApiErrorAlert error={state.error} onRetry={state.reload} />
      {loan && state.data && (
        <Space orientation="vertical" size={12} style={{ width: '100%' }}>
          <Row gutter={[12, 12]}>
            <Col xs={24} xl={12}>
              <Card size="small" title={t('loans.terms')}>
                <Descriptions size="small" column={2} bordered>
                  <Descriptions.Item label={t('loans.customer')}>
                    {loan.customer_ref ? <Link to={`/customers/${encodeURIComponent(loan.customer_ref)}`}>{loan.customer_ref}</Link> : '—'}
                  </Descriptions.Item>
                  <Descriptions.Item label={t('loans.product')}>{loan.product_code}</Descriptions.Item>
                  <Descriptions.Item label={t('loans.principal')}><Money value={loan.principal} currency={currency} /></Descriptions.Item>
                  <Descriptions.Item label={t('loans.rate')}>{formatAnnualRate(loan.annual_rate, locale)}</Descriptions.Item>
                  <Descriptions.Item label={t('loans.term')}>{t('loans.termMonths', { months: loan.term_months })}</Descriptions.Item>
                  <Descriptions.Item label={t('loans.method')}>{tx('method', loan.method)}</Descriptions.Item>
                  <Descriptions.Item label={t('loans.disbursedOn')}>{loan.disbursed_on}</Descriptions.Item>
                  <Descriptions.Item label={t('loans.firstDueOn')}>{loan.first_due_on}</Descriptions.Item>
                  <Descriptions.Item label={t('loans.status')}><StatusTag prefix="loans.status" status={loan.status} /></Descriptions.Item>
                  <Descriptions.Item label={t('loans.credit')}><Money value={loan.credit} currency={currency} /></Descriptions.Item>
                </Descriptions>
              </Card>
            </Col>
            <Col xs={24} xl={12}>
              <Card size="small" title={`${t('loans.state')} · ${t('common.asOf', { date: loan.as_of ?? '—' })}`}>
                <Descriptions size="small" column={2} bordered>
                  <Descriptions.Item label={t('loans.dpd')}><span className="num num-strong" data-testid="loan-dpd">{loan.past_due_days ?? '—'}</span></Descriptions.Item>
                  <Descriptions.Item label={t('loans.bucket')}><BucketTag bucket={loan.bucket} days={loan.delinquent_days} /></Descriptions.Item>
                  <Descriptions.Item label={t('loans.delinquentDays')}>{loan.delinquent_days ?? '—'}</Descriptions.Item>
                  <Descriptions.Item label={t('loans.pausedDays')}>{loan.paused_days ?? '—'}</Descriptions.Item>
                  <Descriptions.Item label={t('loans.classification')}><CategoryTag category={loan.classification?.five_category} /></Descriptions.Item>
                  <Descriptions.Item label={t('loans.ifrs9')}>{loan.classification?.ifrs9_stage ?? '—'}</Descriptions.Item>
                  <Descriptions.Item label={t('loans.overdue')}><Money value={loan.overdue?.total} currency={currency} strong /></Descriptions.Item>
                  <Descriptions.Item label={t('loans.outstanding')}><Money value={loan.outstanding.total} currency={currency} strong /></Descriptions.Item>
                  <Descriptions.Item label={t('loans.overdueBreakdown')} span={2}>
                    <Space size={12} wrap>
                      <span>{t('inst.principal')} <Money value={loan.overdue?.principal} currency={currency} /></span>
                      <span>{t('inst.interest')} <Money value={loan.overdue?.interest} currency={currency} /></span>
                      <span>{t('inst.fee')} <Money value={loan.overdue?.fee} currency={currency} /></span>
                      <span>{t('inst.penalty')} <Money value={loan.overdue?.penalty} currency={currency} /></span>
                    </Space>
                  </Descriptions.Item>
                </Descriptions>
              </Card>
            </Col>
          </Row>
          <Card size="small" title={t('loans.history')}>
            {state.data.history.items.length ? (
              <Chart option={historyOption} height={220} label={t('loans.history')} />
            ) : (
              <Empty description={t('loans.historyEmpty')} />
            )}
          </Card>
          <Card size="small">
            <Tabs
              items={[
                {
                  key: 'schedule',
                  label: `${t('loans.schedule')} (${loan.installments.length})`,
                  children: (
                    <Table<Installment>
                      size="small"
                      bordered
                      rowKey="number"
                      aria-label={t('loans.schedule')}
                      dataSource={loan.installments}
                      columns={scheduleColumns}
                      pagination={loan.installments.length > 60 ? { pageSize: 60, size: 'small' } : false}
                      rowClassName={(row) => (installmentState(row, loan.as_of) === 'overdue' ? 'row-overdue' : '')}
                    />
                  ),
                },
                {
                  key: 'payments',
                  label: `${t('loans.payments')} (${state.data.payments.length})`,
                  children: (
                    <Table<Payment>
                      size="small"
                      rowKey="payment_ref"
                      aria-label={t('loans.payments')}
                      dataSource={state.data.payments}
                      columns={paymentColumns}
                      pagination={{ pageSize: 50, size: 'small', hideOnSinglePage: true }}
                    />
                  ),
                },
                {
                  key: 'holds',
                  label: `${t('loans.holds')} (${loan.holds?.length ?? 0})`,
                  children: (
                    <Table<Hold>
                      size="small"
                      rowKey="id"
                      aria-label={t('loans.holds')}
                      dataSource={loan.holds ?? []}
                      columns={holdColumns}
                      pagination={false}
                    />
                  ),
                },
              ]}
            />
          </Card>
        </Space>
      )}
    </Page>
  );
}
