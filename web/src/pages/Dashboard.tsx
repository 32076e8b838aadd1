// The portfolio at a glance: outstanding, overdue rates (M1+, M3+) by count and balance,
// the NPL ratio, buckets, five categories, the 12-month trend and today's run.
import { useMemo } from 'react';
import { Card, Col, Empty, Progress, Row, Space, Statistic, Table, Tag, Typography } from 'antd';
import { Link } from 'react-router';
import { api, unwrap } from '../api/client';
import type { Buckets, Categories, Portfolio, RunStatus, Trend } from '../api/types';
import { ApiErrorAlert } from '../components/ApiErrorAlert';
import { Chart, PALETTE, type ChartOption } from '../components/Chart';
import { Count, Money, Percent } from '../components/Money';
import { Page } from '../components/Page';
import { BucketTag, CategoryTag, StatusTag } from '../components/Tags';
import { formatCompact, formatMoney, formatPercent, toChartNumber } from '../format/format';
import { useApi } from '../hooks/useApi';
import { useI18n } from '../i18n/I18n';

interface DashboardData {
  portfolio: Portfolio;
  buckets: Buckets;
  categories: Categories;
  trend: Trend;
  run: RunStatus;
}

export async function loadDashboard(signal?: AbortSignal): Promise<DashboardData> {
  const [portfolio, buckets, categories, trend, run] = await Promise.all([
    unwrap(api.GET('/api/v1/analytics/portfolio', { signal })),
    unwrap(api.GET('/api/v1/analytics/buckets', { signal })),
    unwrap(api.GET('/api/v1/analytics/classification', { signal })),
    unwrap(api.GET('/api/v1/analytics/trend', { signal })),
    unwrap(api.GET('/api/v1/analytics/run-status', { signal })),
  ]);
  return { portfolio, buckets, categories, trend, run };
}

function RateCard({ title, byCount, byBalance, loans, balance, currency }: {
  title: string;
  byCount: string;
  byBalance: string;
  loans: number;
  balance: string;
  currency: string;
}) {
  const { t, locale } = useI18n();
  return (
    <Card size="small" className="kpi">
      <Statistic title={`${title}（${t('dashboard.byBalance')}）`} value={formatPercent(byBalance, locale)} />
      <div className="kpi-sub">
        {t('dashboard.byCount')} <Percent value={byCount} /> ·{' '}
        {t('dashboard.overdueLoans', { count: loans.toLocaleString(), amount: formatMoney(balance, currency, locale) })}
      </div>
    </Card>
  );
}

export default function Dashboard() {
  const { t, tx, locale } = useI18n();
  const state = useApi((signal) => loadDashboard(signal), []);
  const data = state.data;
  const currency = data?.portfolio.currency ?? 'CNY';

  const bucketOption = useMemo<ChartOption>(() => {
    const items = data?.buckets.items ?? [];
    return {
      color: PALETTE,
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 48, right: 64, top: 32, bottom: 24 },
      xAxis: { type: 'category', data: items.map((i) => i.bucket) },
      yAxis: [
        { type: 'value', name: t('dashboard.bucketCount'), minInterval: 1 },
        {
          type: 'value',
          name: t('dashboard.bucketBalance'),
          axisLabel: { formatter: (v: number) => formatCompact(v, locale) },
        },
      ],
      series: [
        { name: t('dashboard.bucketCount'), type: 'bar', data: items.map((i) => i.loans) },
        {
          name: t('dashboard.bucketBalance'),
          type: 'bar',
          yAxisIndex: 1,
          data: items.map((i) => toChartNumber(i.outstanding_principal)),
        },
      ],
    };
  }, [data, t, locale]);

  const categoryOption = useMemo<ChartOption>(() => {
    const items = data?.categories.items ?? [];
    return {
      color: ['#52c41a', '#faad14', '#fa8c16', '#fa541c', '#f5222d'],
      tooltip: { trigger: 'item' },
      legend: { bottom: 0 },
      series: [
        {
          type: 'pie',
          radius: ['40%', '68%'],
          center: ['50%', '45%'],
          label: { formatter: '{b}: {c}' },
          data: items.map((i) => ({ name: tx('category', i.category), value: i.loans })),
        },
      ],
    };
  }, [data, tx]);

  const trendOption = useMemo<ChartOption>(() => {
    const items = data?.trend.items ?? [];
    const percent = (v: number) => formatPercent(v, locale, 1);
    return {
      color: [PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[4], '#adc6ff'],
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 56, right: 64, top: 36, bottom: 24 },
      xAxis: { type: 'category', data: items.map((i) => i.month) },
      yAxis: [
        { type: 'value', axisLabel: { formatter: percent } },
        { type: 'value', axisLabel: { formatter: (v: number) => formatCompact(v, locale) } },
      ],
      series: [
        { name: t('dashboard.series.m1Balance'), type: 'line', data: items.map((i) => toChartNumber(i.m1_rate_by_balance)) },
        { name: t('dashboard.series.m3Balance'), type: 'line', data: items.map((i) => toChartNumber(i.m3_rate_by_balance)) },
        { name: t('dashboard.series.npl'), type: 'line', data: items.map((i) => toChartNumber(i.npl_ratio_by_balance)) },
        { name: t('dashboard.series.m1Count'), type: 'line', lineStyle: { type: 'dashed' }, data: items.map((i) => toChartNumber(i.m1_rate_by_count)) },
        {
          name: t('dashboard.series.outstanding'),
          type: 'bar',
          yAxisIndex: 1,
          barMaxWidth: 24,
          data: items.map((i) => toChartNumber(i.outstanding_principal)),
        },
      ],
    };
  }, [data, t, locale]);

  const run = data?.run;
  const latest = run?.latest;

  return (
    <Page id="dashboard" title={t('dashboard.title')} ready={!state.loading && !!data}
      extra={data && <Typography.Text type="secondary">{t('common.asOf', { date: data.portfolio.as_of })}</Typography.Text>}>
      <ApiErrorAlert error={state.error} onRetry={state.reload} />
      {data && (
        <Space orientation="vertical" size={12} style={{ width: '100%' }}>
          <Row gutter={[12, 12]}>
            <Col xs={24} sm={12} xl={5}>
              <Card size="small" className="kpi">
                <Statistic title={t('dashboard.outstanding')} value={formatMoney(data.portfolio.outstanding_principal, currency, locale)} />
                <div className="kpi-sub">
                  {t('dashboard.loans')} <Count value={data.portfolio.loans} /> ·{' '}
                  {t('dashboard.outstandingTotal', { amount: formatMoney(data.portfolio.outstanding_total, currency, locale) })}
                </div>
              </Card>
            </Col>
            <Col xs={24} sm={12} xl={5}>
              <RateCard title={t('dashboard.m1Rate')} byCount={data.portfolio.m1_plus.rate_by_count}
                byBalance={data.portfolio.m1_plus.rate_by_balance} loans={data.portfolio.m1_plus.loans}
                balance={data.portfolio.m1_plus.balance} currency={currency} />
            </Col>
            <Col xs={24} sm={12} xl={5}>
              <RateCard title={t('dashboard.m3Rate')} byCount={data.portfolio.m3_plus.rate_by_count}
                byBalance={data.portfolio.m3_plus.rate_by_balance} loans={data.portfolio.m3_plus.loans}
                balance={data.portfolio.m3_plus.balance} currency={currency} />
            </Col>
            <Col xs={24} sm={12} xl={4}>
              <Card size="small" className="kpi">
                <Statistic title={t('dashboard.npl')} value={formatPercent(data.portfolio.npl.ratio_by_balance, locale)} />
                <div className="kpi-sub">
                  {t('dashboard.byCount')} <Percent value={data.portfolio.npl.ratio_by_count} /> ·{' '}
                  <Money value={data.portfolio.npl.balance} currency={currency} />
                </div>
              </Card>
            </Col>
            <Col xs={24} sm={24} xl={5}>
              <Card size="small" className="kpi" data-testid="run-card">
                <Statistic title={t('dashboard.businessDate')} value={run?.business_date ?? '—'} />
                <div className="kpi-sub">
                  {latest ? (
                    <Space size={4} wrap>
                      {t('dashboard.run')} <StatusTag prefix="run.status" status={latest.status} />
                      <Link to="/runs">#{latest.id} {latest.business_date}</Link>
                      {latest.status === 'running' && (
                        <Progress size="small" percent={latest.progress.total ? Math.round((latest.progress.done / latest.progress.total) * 100) : 0} />
                      )}
                    </Space>
                  ) : (
                    t('dashboard.noRun')
                  )}
                </div>
              </Card>
            </Col>
          </Row>
          <Row gutter={[12, 12]}>
            <Col xs={24} xl={14}>
              <Card size="small" title={t('dashboard.buckets')}>
                <Chart option={bucketOption} height={240} label={t('dashboard.buckets')} />
                <Table
                  size="small"
                  pagination={false}
                  rowKey="bucket"
                  aria-label={t('dashboard.buckets')}
                  dataSource={data.buckets.items}
                  columns={[
                    { title: t('loans.bucket'), dataIndex: 'bucket', key: 'bucket', render: (b: string) => <BucketTag bucket={b} /> },
                    { title: t('dashboard.bucketCount'), dataIndex: 'loans', key: 'loans', align: 'right', render: (v: number) => <Count value={v} /> },
                    { title: '%', dataIndex: 'share_by_count', key: 'sc', align: 'right', render: (v: string) => <Percent value={v} /> },
                    { title: t('dashboard.bucketBalance'), dataIndex: 'outstanding_principal', key: 'bal', align: 'right', render: (v: string) => <Money value={v} currency={currency} /> },
                    { title: '%', dataIndex: 'share_by_balance', key: 'sb', align: 'right', render: (v: string) => <Percent value={v} /> },
                    { title: t('loans.overdue'), dataIndex: 'overdue_total', key: 'od', align: 'right', render: (v: string) => <Money value={v} currency={currency} /> },
                  ]}
                />
              </Card>
            </Col>
            <Col xs={24} xl={10}>
              <Card size="small" title={t('dashboard.categories')}>
                <Chart option={categoryOption} height={240} label={t('dashboard.categories')} />
                <Table
                  size="small"
                  pagination={false}
                  rowKey="category"
                  aria-label={t('dashboard.categories')}
                  dataSource={data.categories.items}
                  columns={[
                    { title: t('loans.classification'), dataIndex: 'category', key: 'c', render: (c) => <CategoryTag category={c} /> },
                    { title: t('dashboard.bucketCount'), dataIndex: 'loans', key: 'n', align: 'right', render: (v: number) => <Count value={v} /> },
                    { title: t('dashboard.bucketBalance'), dataIndex: 'outstanding_principal', key: 'b', align: 'right', render: (v: string) => <Money value={v} currency={currency} /> },
                    { title: '%', dataIndex: 'share_by_balance', key: 's', align: 'right', render: (v: string) => <Percent value={v} /> },
                  ]}
                />
              </Card>
            </Col>
          </Row>
          <Card size="small" title={t('dashboard.trend')}>
            {data.trend.items.length > 0 ? (
              <Chart option={trendOption} height={300} label={t('dashboard.trend')} />
            ) : (
              <Empty description={t('dashboard.trendEmpty')} />
            )}
          </Card>
          {latest?.error && <Tag color="error">{latest.error}</Tag>}
        </Space>
      )}
    </Page>
  );
}
