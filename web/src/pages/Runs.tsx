// Daily runs: the current business date and run, its progress while it runs (polled),
// the latest runs with their figures, and — for those allowed — starting a run.
import { useEffect, useMemo, useState } from 'react';
import { Button, Card, DatePicker, Descriptions, Progress, Space, Table, Tag, App } from 'antd';
import type { TableColumnsType } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { api, unwrap } from '../api/client';
import { asApiError, type ApiError } from '../api/errors';
import type { EodRun, EodRunList, RunStatus } from '../api/types';
import { useAuth } from '../auth/AuthContext';
import { can } from '../auth/permissions';
import { ApiErrorAlert } from '../components/ApiErrorAlert';
import { Count } from '../components/Money';
import { Page } from '../components/Page';
import { StatusTag } from '../components/Tags';
import { formatDateTime, formatNumber } from '../format/format';
import { useApi } from '../hooks/useApi';
import { useI18n } from '../i18n/I18n';

const POLL_MS = 1000;

interface RunsData {
  status: RunStatus;
  runs: EodRun[];
}

async function loadRuns(signal?: AbortSignal): Promise<RunsData> {
  const [status, list] = await Promise.all([
    unwrap(api.GET('/api/v1/analytics/run-status', { signal })),
    unwrap(api.GET('/api/v1/eod-runs', { params: { query: { limit: 30 } }, signal })),
  ]);
  return { status, runs: (list as unknown as EodRunList).items };
}

export function runPercent(run: EodRun): number {
  if (run.status === 'completed') return 100;
  const { done, total } = run.progress;
  return total > 0 ? Math.min(100, Math.round((done / total) * 100)) : 0;
}

function seconds(run: EodRun): number {
  return Object.values(run.stage_seconds ?? {}).reduce((sum, value) => sum + value, 0);
}

export default function Runs() {
  const { t, locale } = useI18n();
  const { user } = useAuth();
  const { message } = App.useApp();
  const state = useApi((signal) => loadRuns(signal), []);
  const [date, setDate] = useState<Dayjs | null>(null);
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<ApiError | null>(null);
  const running = state.data?.runs.find((run) => run.status === 'running');

  // follow a running run until it ends
  const { reload } = state;
  useEffect(() => {
    if (!running) return undefined;
    const timer = window.setTimeout(reload, POLL_MS);
    return () => window.clearTimeout(timer);
  }, [running, state.data, reload]);

  const start = async () => {
    setStarting(true);
    setStartError(null);
    try {
      const body = date ? { business_date: date.format('YYYY-MM-DD') } : {};
      const run = (await unwrap(api.POST('/api/v1/eod-runs', { body }))) as unknown as EodRun;
      void message.success(t('runs.started', { id: run.id }));
      reload();
    } catch (caught) {
      setStartError(asApiError(caught));
    } finally {
      setStarting(false);
    }
  };

  const columns = useMemo<TableColumnsType<EodRun>>(
    () => [
      { title: t('runs.id'), dataIndex: 'id', key: 'id', width: 60, align: 'right' },
      { title: t('runs.businessDate'), dataIndex: 'business_date', key: 'bd', width: 100 },
      { title: t('runs.fromDate'), dataIndex: 'from_date', key: 'fd', width: 100 },
      {
        title: t('runs.status'),
        dataIndex: 'status',
        key: 'status',
        width: 150,
        render: (v: string, run) =>
          v === 'running' ? <Progress size="small" percent={runPercent(run)} status="active" /> : <StatusTag prefix="run.status" status={v} />,
      },
      { title: t('runs.startedAt'), dataIndex: 'started_at', key: 'sa', width: 150, render: (v: string) => formatDateTime(v) },
      { title: t('runs.finishedAt'), dataIndex: 'finished_at', key: 'fa', width: 150, render: (v: string | null) => formatDateTime(v) },
      { title: t('runs.loans'), dataIndex: 'loans_total', key: 'lt', align: 'right', render: (v: number) => <Count value={v} /> },
      { title: t('runs.evaluated'), dataIndex: 'loans_evaluated', key: 'le', align: 'right', render: (v: number) => <Count value={v} /> },
      { title: t('runs.advanced'), dataIndex: 'loans_advanced', key: 'la', align: 'right', render: (v: number) => <Count value={v} /> },
      { title: t('runs.events'), dataIndex: 'events_written', key: 'ev', align: 'right', render: (v: number) => <Count value={v} /> },
      { title: t('runs.seconds'), key: 'sec', align: 'right', render: (_: unknown, run) => <span className="num">{formatNumber(seconds(run), locale, 2)}</span> },
      { title: t('runs.requestedBy'), dataIndex: 'requested_by', key: 'by', render: (v: string | null) => v ?? '—' },
    ],
    [t, locale],
  );

  const latest = state.data?.status.latest;
  const current = running ?? latest;

  return (
    <Page
      id="runs"
      title={t('runs.title')}
      ready={!!state.data}
      extra={
        can(user, 'eod:run') && (
          <Space>
            <DatePicker
              aria-label={t('runs.date')}
              value={date}
              onChange={setDate}
              disabledDate={(d) => d.isAfter(dayjs().add(1, 'day'))}
              placeholder={t('runs.date')}
            />
            <Button type="primary" onClick={() => void start()} loading={starting} disabled={Boolean(running)}>
              {t('runs.start')}
            </Button>
          </Space>
        )
      }
    >
      <Space orientation="vertical" size={12} style={{ width: '100%' }}>
        <ApiErrorAlert error={startError} />
        <ApiErrorAlert error={state.error} onRetry={reload} />
        {state.data && (
          <Card size="small" title={t('runs.current')} data-testid="current-run">
            <Descriptions size="small" column={{ xs: 1, md: 3 }} bordered>
              <Descriptions.Item label={t('dashboard.businessDate')}>{state.data.status.business_date}</Descriptions.Item>
              <Descriptions.Item label={t('runs.status')}>
                {current ? <StatusTag prefix="run.status" status={current.status} /> : t('dashboard.noRun')}
              </Descriptions.Item>
              <Descriptions.Item label={t('runs.progress')}>
                {current ? (
                  <Space>
                    <Progress size="small" percent={runPercent(current)} status={current.status === 'failed' ? 'exception' : current.status === 'running' ? 'active' : 'success'} style={{ width: 160 }} />
                    {current.status === 'running' && (
                      <span className="num">
                        {current.progress.stage ?? ''} {current.progress.date ?? ''} ({formatNumber(current.progress.done, locale)}/
                        {formatNumber(current.progress.total, locale)})
                      </span>
                    )}
                  </Space>
                ) : (
                  '—'
                )}
              </Descriptions.Item>
              {current?.error && (
                <Descriptions.Item label={t('runs.error')} span={3}>
                  <Tag color="error">{current.error}</Tag>
                </Descriptions.Item>
              )}
            </Descriptions>
          </Card>
        )}
        <Table<EodRun>
          size="small"
          bordered
          aria-label={t('runs.title')}
          rowKey="id"
          loading={state.loading && !state.data}
          dataSource={state.data?.runs ?? []}
          columns={columns}
          pagination={{ pageSize: 30, size: 'small', hideOnSinglePage: true }}
          expandable={{
            expandedRowRender: (run) => (
              <Descriptions size="small" column={2}>
                <Descriptions.Item label={t('runs.stages')}>
                  <Space wrap>
                    {Object.entries(run.stage_seconds ?? {}).map(([stage, value]) => (
                      <Tag key={stage}>{stage}: {formatNumber(value, locale, 3)}</Tag>
                    ))}
                  </Space>
                </Descriptions.Item>
                <Descriptions.Item label={t('runs.bucketCounts')}>
                  <Space wrap>
                    {Object.entries(run.bucket_counts ?? {}).map(([bucket, count]) => (
                      <Tag key={bucket}>{bucket}: {formatNumber(count, locale)}</Tag>
                    ))}
                  </Space>
                </Descriptions.Item>
              </Descriptions>
            ),
          }}
        />
      </Space>
    </Page>
  );
}
