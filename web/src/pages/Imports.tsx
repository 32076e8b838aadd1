// Imports: choose what the file holds, upload it for a dry run (every row checked, nothing
// written), read the row errors, then import it. Upload progress, then a spinner while the
// server works; the history of imports below.
import { useMemo, useState } from 'react';
import { Alert, Button, Card, Checkbox, Col, Form, Progress, Row, Select, Space, Statistic, Table, Upload } from 'antd';
import type { TableColumnsType, UploadFile } from 'antd';
import { InboxOutlined } from '@ant-design/icons';
import { api, unwrap } from '../api/client';
import { asApiError, type ApiError } from '../api/errors';
import type { ImportKind, ImportReport, ImportRunSummary, RowError } from '../api/types';
import { uploadImport } from '../api/upload';
import { ApiErrorAlert } from '../components/ApiErrorAlert';
import { DataTable } from '../components/DataTable';
import { Count } from '../components/Money';
import { Page } from '../components/Page';
import { StatusTag } from '../components/Tags';
import { formatDateTime } from '../format/format';
import { useI18n } from '../i18n/I18n';

const KINDS: ImportKind[] = ['customers', 'loans', 'installments', 'payments'];

type Phase = { kind: 'idle' } | { kind: 'uploading'; percent: number } | { kind: 'processing' };

export function ImportReportView({ report }: { report: ImportReport }) {
  const { t } = useI18n();
  const columns = useMemo<TableColumnsType<RowError>>(
    () => [
      { title: t('imports.row'), dataIndex: 'row', key: 'row', width: 70, align: 'right', sorter: (a, b) => a.row - b.row },
      { title: t('imports.column'), dataIndex: 'column', key: 'column', width: 140 },
      { title: t('imports.value'), dataIndex: 'value', key: 'value', width: 180, ellipsis: true },
      { title: t('imports.message'), dataIndex: 'message', key: 'message' },
      { title: t('imports.code'), dataIndex: 'code', key: 'code', width: 160, render: (v: string) => <code>{v}</code> },
    ],
    [t],
  );
  return (
    <Space orientation="vertical" size={12} style={{ width: '100%' }} data-testid="import-report">
      <Row gutter={12}>
        <Col><StatusTag prefix="imports.status" status={report.status} /></Col>
        <Col><Statistic title={t('imports.rowsTotal')} value={report.rows_total} /></Col>
        <Col><Statistic title={t('imports.rowsInvalid')} value={report.rows_invalid} styles={report.rows_invalid ? { content: { color: '#cf1322' } } : undefined} /></Col>
        <Col><Statistic title={t('imports.inserted')} value={report.inserted} /></Col>
        <Col><Statistic title={t('imports.updated')} value={report.updated} /></Col>
        <Col><Statistic title={t('imports.unchanged')} value={report.unchanged} /></Col>
      </Row>
      {report.warnings.length > 0 && (
        <Alert type="warning" showIcon title={t('imports.warnings')} description={<ul>{report.warnings.map((w) => <li key={w}>{w}</li>)}</ul>} />
      )}
      {report.errors.length > 0 && (
        <Table<RowError>
          size="small"
          bordered
          aria-label={t('imports.errors', { total: report.errors_total })}
          title={() => t('imports.errors', { total: report.errors_total.toLocaleString() })}
          rowKey={(e) => `${e.row}:${e.column}:${e.code}`}
          dataSource={report.errors}
          columns={columns}
          pagination={{ pageSize: 20, size: 'small', hideOnSinglePage: true }}
          data-testid="row-errors"
        />
      )}
    </Space>
  );
}

export default function Imports() {
  const { t, tx } = useI18n();
  const [kind, setKind] = useState<ImportKind>('customers');
  const [file, setFile] = useState<File | null>(null);
  const [skipInvalid, setSkipInvalid] = useState(false);
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const [report, setReport] = useState<ImportReport | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [historyKey, setHistoryKey] = useState(0);

  const run = async (dryRun: boolean) => {
    if (!file) {
      setError(asApiError(new Error(t('imports.chooseFile'))));
      return;
    }
    setError(null);
    if (dryRun) setReport(null);
    try {
      const result = await uploadImport(kind, file, {
        dryRun,
        skipInvalid,
        onProgress: ({ percent }) => setPhase(percent === null ? { kind: 'processing' } : { kind: 'uploading', percent }),
      });
      setReport(result);
      setHistoryKey((k) => k + 1);
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setPhase({ kind: 'idle' });
    }
  };

  const busy = phase.kind !== 'idle';
  const checked = report?.status === 'checked';
  const canCommit = Boolean(checked && (report.rows_invalid === 0 || skipInvalid));

  const historyColumns = useMemo<TableColumnsType<ImportRunSummary>>(
    () => [
      { title: t('imports.startedAt'), dataIndex: 'started_at', key: 'started_at', sorter: true, width: 160, render: (v: string) => formatDateTime(v) },
      { title: t('imports.kind'), dataIndex: 'kind', key: 'kind', sorter: true, width: 100, render: (v: string) => tx('imports.kind', v) },
      { title: t('imports.fileName'), dataIndex: 'file_name', key: 'file_name', sorter: true },
      { title: t('imports.dryRun'), dataIndex: 'dry_run', key: 'dry', width: 70, render: (v: boolean) => (v ? t('common.yes') : t('common.no')) },
      { title: t('runs.status'), dataIndex: 'status', key: 'status', sorter: true, width: 130, render: (v: string) => <StatusTag prefix="imports.status" status={v} /> },
      { title: t('imports.rowsTotal'), dataIndex: 'rows_total', key: 'rows', align: 'right', width: 90, render: (v: number) => <Count value={v} /> },
      { title: t('imports.rowsInvalid'), dataIndex: 'rows_invalid', key: 'invalid', align: 'right', width: 90, render: (v: number) => <Count value={v} /> },
      { title: t('imports.inserted'), dataIndex: 'inserted', key: 'inserted', align: 'right', width: 80, render: (v: number) => <Count value={v} /> },
    ],
    [t, tx],
  );

  const fileList: UploadFile[] = file ? [{ uid: 'file', name: file.name, size: file.size, status: 'done' }] : [];

  return (
    <Page id="imports" title={t('imports.title')} ready={true}>
      <Space orientation="vertical" size={12} style={{ width: '100%' }}>
        <Card size="small">
          <Form layout="vertical" aria-label={t('imports.title')}>
            <Row gutter={16}>
              <Col xs={24} md={6}>
                <Form.Item label={t('imports.kind')} htmlFor="import-kind">
                  <Select<ImportKind>
                    id="import-kind"
                    value={kind}
                    onChange={(value) => {
                      setKind(value);
                      setReport(null);
                    }}
                    options={KINDS.map((k) => ({ value: k, label: tx('imports.kind', k) }))}
                    data-testid="import-kind"
                  />
                </Form.Item>
                <Form.Item>
                  <Checkbox checked={skipInvalid} onChange={(event) => setSkipInvalid(event.target.checked)}>
                    {t('imports.skipInvalid')}
                  </Checkbox>
                </Form.Item>
              </Col>
              <Col xs={24} md={18}>
                <Form.Item label={t('imports.file')}>
                  <Upload.Dragger
                    accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                    multiple={false}
                    fileList={fileList}
                    beforeUpload={(chosen) => {
                      setFile(chosen);
                      setReport(null);
                      setError(null);
                      return false;
                    }}
                    onRemove={() => {
                      setFile(null);
                      setReport(null);
                    }}
                    data-testid="import-file"
                  >
                    <p className="ant-upload-drag-icon"><InboxOutlined aria-hidden /></p>
                    <p className="ant-upload-text">{t('imports.drop')}</p>
                    <p className="ant-upload-hint">{t('imports.dropHint')}</p>
                  </Upload.Dragger>
                </Form.Item>
              </Col>
            </Row>
            <Space wrap>
              <Button type="primary" onClick={() => void run(true)} loading={busy} disabled={!file} data-testid="import-check">
                {t('imports.check')}
              </Button>
              <Button onClick={() => void run(false)} disabled={!canCommit || busy} data-testid="import-commit">
                {t('imports.commit')}
              </Button>
              {phase.kind === 'uploading' && (
                <Progress percent={phase.percent} size="small" style={{ width: 200 }} aria-label={t('imports.uploading', { percent: phase.percent })} />
              )}
              {phase.kind === 'processing' && (
                <Progress percent={100} status="active" showInfo={false} size="small" style={{ width: 200 }} aria-label={t('imports.processing')} />
              )}
              {phase.kind === 'processing' && <span role="status">{t('imports.processing')}</span>}
            </Space>
          </Form>
        </Card>
        <ApiErrorAlert error={error} />
        {report && (
          <Card size="small" title={report.status === 'committed' ? t('imports.committed') : t('imports.result')}>
            {checked && report.rows_invalid === 0 && <Alert type="success" showIcon title={t('imports.noErrors')} style={{ marginBottom: 12 }} />}
            {checked && report.rows_invalid > 0 && !skipInvalid && <Alert type="warning" showIcon title={t('imports.fixFirst')} style={{ marginBottom: 12 }} />}
            <ImportReportView report={report} />
          </Card>
        )}
        <Card size="small" title={t('imports.history')}>
          <DataTable<ImportRunSummary>
            label={t('imports.history')}
            param="h"
            columns={historyColumns}
            defaultPageSize={20}
            rowKey={(row) => String(row.id)}
            deps={[historyKey]}
            load={({ page, page_size, sort }, signal) =>
              unwrap(api.GET('/api/v1/imports', { params: { query: { page, page_size, sort } }, signal }))
            }
          />
        </Card>
      </Space>
    </Page>
  );
}
