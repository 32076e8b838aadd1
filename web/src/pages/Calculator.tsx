// The loan calculator: one set of terms, the schedule under all four repayment methods
// side by side (等额本息, 等额本金, 按月付息到期还本, 到期一次还本付息), computed by the
// server's schedule engine (POST /schedule/preview), nothing stored.
import { useMemo, useState } from 'react';
import { Button, Card, Col, DatePicker, Empty, Form, InputNumber, Row, Select, Space, Table, Tabs } from 'antd';
import type { TableColumnsType } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { api, unwrap } from '../api/client';
import { asApiError, type ApiError } from '../api/errors';
import type { Method, SchedulePreview, SchedulePreviewIn } from '../api/types';
import { ApiErrorAlert } from '../components/ApiErrorAlert';
import { Chart, PALETTE, type ChartOption } from '../components/Chart';
import { Money } from '../components/Money';
import { Page } from '../components/Page';
import { formatCompact, toChartNumber } from '../format/format';
import { useI18n } from '../i18n/I18n';

export const METHODS: Method[] = ['annuity', 'equal_principal', 'interest_only', 'bullet'];

interface Terms {
  principal: number;
  annual_rate: number;
  months: number;
  first_due: Dayjs;
  disbursed?: Dayjs | null;
  day_count: NonNullable<SchedulePreviewIn['day_count']>;
  rounding: NonNullable<SchedulePreviewIn['rounding']>;
  rounding_unit: NonNullable<SchedulePreviewIn['rounding_unit']>;
}

type Row = SchedulePreview['installments'][number];

/** The request body for one method: amounts and rates as decimal strings. */
export function previewBody(terms: Terms, method: Method): SchedulePreviewIn {
  return {
    principal: String(terms.principal),
    annual_rate: String(terms.annual_rate),
    months: terms.months,
    method,
    first_due: terms.first_due.format('YYYY-MM-DD'),
    disbursed: terms.disbursed ? terms.disbursed.format('YYYY-MM-DD') : null,
    day_count: terms.day_count,
    rounding: terms.rounding,
    rounding_unit: terms.rounding_unit,
  };
}

export async function previewAll(terms: Terms): Promise<Record<Method, SchedulePreview>> {
  const answers = await Promise.all(
    METHODS.map((method) => unwrap(api.POST('/api/v1/schedule/preview', { body: previewBody(terms, method) }))),
  );
  return Object.fromEntries(METHODS.map((method, i) => [method, answers[i]])) as Record<Method, SchedulePreview>;
}

function largest(rows: Row[]): string {
  return rows.reduce((max, row) => (Number(row.total) > Number(max) ? row.total : max), '0');
}

export default function Calculator() {
  const { t, tx, locale } = useI18n();
  const [form] = Form.useForm<Terms>();
  const [result, setResult] = useState<Record<Method, SchedulePreview> | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [terms, setTerms] = useState<Terms | null>(null);

  const compute = async (terms: Terms) => {
    setBusy(true);
    setError(null);
    try {
      setResult(await previewAll(terms));
      setTerms(terms);
    } catch (caught) {
      setError(asApiError(caught));
      setResult(null);
    } finally {
      setBusy(false);
    }
  };

  const compareRows = useMemo(
    () =>
      result
        ? METHODS.map((method) => {
            const rows = result[method].installments;
            return {
              method,
              first: rows[0]?.total ?? '0',
              last: rows[rows.length - 1]?.total ?? '0',
              max: largest(rows),
              interest: result[method].total_interest,
              repayment: result[method].total_repayment,
            };
          })
        : [],
    [result],
  );

  // principal still owed over time: where the four methods differ most
  const balanceOption = useMemo<ChartOption>(() => {
    if (!result || !terms) return {};
    const start = (terms.disbursed ?? terms.first_due.subtract(1, 'month')).format('YYYY-MM-DD');
    return {
      color: PALETTE,
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 64, right: 16, top: 36, bottom: 24 },
      xAxis: { type: 'time' },
      yAxis: { type: 'value', axisLabel: { formatter: (v: number) => formatCompact(v, locale) } },
      series: METHODS.map((method) => ({
        name: tx('method', method),
        type: 'line',
        step: method === 'bullet' ? 'end' : undefined,
        showSymbol: false,
        data: [
          [start, Number(terms.principal)],
          ...result[method].installments.map((row) => [row.due_date, toChartNumber(row.balance_after)]),
        ],
      })),
    };
  }, [result, terms, tx, locale]);

  const scheduleColumns = useMemo<TableColumnsType<Row>>(
    () => [
      { title: t('inst.number'), dataIndex: 'number', key: 'n', width: 56, align: 'right' },
      { title: t('inst.dueDate'), dataIndex: 'due_date', key: 'd', width: 100 },
      { title: t('inst.principal'), dataIndex: 'principal', key: 'p', align: 'right', render: (v: string) => <Money value={v} /> },
      { title: t('inst.interest'), dataIndex: 'interest', key: 'i', align: 'right', render: (v: string) => <Money value={v} /> },
      { title: t('inst.total'), dataIndex: 'total', key: 't', align: 'right', render: (v: string) => <Money value={v} strong /> },
      { title: t('calc.balanceAfter'), dataIndex: 'balance_after', key: 'b', align: 'right', render: (v: string) => <Money value={v} /> },
    ],
    [t],
  );

  return (
    <Page id="calculator" title={t('calc.title')} ready={!busy}>
      <Space orientation="vertical" size={12} style={{ width: '100%' }}>
        <Card size="small">
          <Form<Terms>
            form={form}
            layout="inline"
            className="filters"
            aria-label={t('calc.title')}
            onFinish={(values) => void compute(values)}
            initialValues={{
              principal: 100000,
              annual_rate: 4.9,
              months: 12,
              first_due: dayjs().add(1, 'month').startOf('day'),
              day_count: '30/360',
              rounding: 'half_up',
              rounding_unit: 'cent',
            }}
          >
            <Form.Item name="principal" label={t('calc.principal')} rules={[{ required: true }]}>
              <InputNumber min={0.01} max={99999999999999} step={1000} style={{ width: 140 }} data-testid="calc-principal" />
            </Form.Item>
            <Form.Item name="annual_rate" label={t('calc.rate')} rules={[{ required: true }]}>
              <InputNumber min={0} max={1000} step={0.1} style={{ width: 90 }} data-testid="calc-rate" />
            </Form.Item>
            <Form.Item name="months" label={t('calc.months')} rules={[{ required: true }]}>
              <InputNumber min={1} max={600} precision={0} style={{ width: 80 }} data-testid="calc-months" />
            </Form.Item>
            <Form.Item name="first_due" label={t('calc.firstDue')} rules={[{ required: true }]}>
              <DatePicker allowClear={false} />
            </Form.Item>
            <Form.Item name="disbursed" label={t('calc.disbursed')}>
              <DatePicker />
            </Form.Item>
            <Form.Item name="day_count" label={t('calc.dayCount')}>
              <Select style={{ width: 100 }} options={['30/360', 'act/365', 'act/360'].map((v) => ({ value: v, label: v }))} />
            </Form.Item>
            <Form.Item name="rounding" label={t('calc.rounding')}>
              <Select style={{ width: 110 }} options={['half_up', 'up', 'down'].map((v) => ({ value: v, label: tx('calc.rounding', v) }))} />
            </Form.Item>
            <Form.Item name="rounding_unit" label={t('calc.roundingUnit')}>
              <Select style={{ width: 80 }} options={['cent', 'unit'].map((v) => ({ value: v, label: tx('calc.unit', v) }))} />
            </Form.Item>
            <Form.Item>
              <Button type="primary" htmlType="submit" loading={busy} data-testid="calc-submit">
                {t('calc.compute')}
              </Button>
            </Form.Item>
          </Form>
        </Card>
        <ApiErrorAlert error={error} />
        {!result && !error && <Empty description={t('calc.hint')} />}
        {result && (
          <>
            <Row gutter={[12, 12]}>
              <Col xs={24} xl={12}>
                <Card size="small" title={t('calc.compare')}>
                  <Table
                    size="small"
                    bordered
                    pagination={false}
                    rowKey="method"
                    aria-label={t('calc.compare')}
                    dataSource={compareRows}
                    data-testid="calc-compare"
                    columns={[
                      { title: t('loans.method'), dataIndex: 'method', key: 'm', render: (m: string) => tx('method', m) },
                      { title: t('calc.firstPayment'), dataIndex: 'first', key: 'f', align: 'right', render: (v: string) => <Money value={v} /> },
                      { title: t('calc.lastPayment'), dataIndex: 'last', key: 'l', align: 'right', render: (v: string) => <Money value={v} /> },
                      { title: t('calc.totalInterest'), dataIndex: 'interest', key: 'i', align: 'right', render: (v: string) => <Money value={v} strong /> },
                      { title: t('calc.totalRepayment'), dataIndex: 'repayment', key: 'r', align: 'right', render: (v: string) => <Money value={v} /> },
                    ]}
                  />
                </Card>
              </Col>
              <Col xs={24} xl={12}>
                <Card size="small" title={t('calc.balanceChart')}>
                  <Chart option={balanceOption} height={220} label={t('calc.balanceChart')} />
                </Card>
              </Col>
            </Row>
            <Card size="small">
              <Tabs
                items={METHODS.map((method) => ({
                  key: method,
                  label: tx('method', method),
                  children: (
                    <Table<Row>
                      size="small"
                      bordered
                      rowKey="number"
                      aria-label={`${t('loans.schedule')} ${tx('method', method)}`}
                      dataSource={result[method].installments}
                      columns={scheduleColumns}
                      pagination={result[method].installments.length > 60 ? { pageSize: 60, size: 'small' } : false}
                    />
                  ),
                }))}
              />
            </Card>
          </>
        )}
      </Space>
    </Page>
  );
}
