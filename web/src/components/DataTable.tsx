// The console's list table: the server pages and sorts (page, page_size, sort), the table
// shows one page at a time, so a list of a million loans costs what a page costs. Paging
// and sorting live in the address (?page=3&size=50&sort=-past_due_days), so Back and a
// shared link return to the same page. Errors show as the API's sentence.
import { useMemo } from 'react';
import { Table, type TableColumnsType, type TablePaginationConfig } from 'antd';
import type { SorterResult, SortOrder } from 'antd/es/table/interface';
import { useSearchParams } from 'react-router';
import type { Page } from '../api/types';
import { useApi } from '../hooks/useApi';
import { useI18n } from '../i18n/I18n';
import { ApiErrorAlert } from './ApiErrorAlert';

export interface TableQuery {
  page: number;
  page_size: number;
  sort?: string;
}

export const PAGE_SIZES = [20, 50, 100, 200];

export interface DataTableProps<T> {
  /** Names the table for assistive technology. */
  label: string;
  columns: TableColumnsType<T>;
  load: (query: TableQuery, signal: AbortSignal) => Promise<Page<T>>;
  rowKey: (row: T) => string;
  /** Filters: a change reloads. The parent resets ?page when it changes them. */
  deps?: unknown[];
  defaultPageSize?: number;
  defaultSort?: string;
  /** Key prefix in the address, for pages with more than one table. */
  param?: string;
  onLoaded?: (page: Page<T>) => void;
  scrollX?: number;
}

/** `-past_due_days,loan_ref` → the first field and its antd order. */
export function parseSort(sort: string | undefined): { field?: string; order: SortOrder } {
  const first = (sort ?? '').split(',')[0]?.trim();
  if (!first) return { order: null };
  return first.startsWith('-')
    ? { field: first.slice(1), order: 'descend' }
    : { field: first, order: 'ascend' };
}

/** antd's sorter → the API's `sort` parameter (undefined: the endpoint's default). */
export function sortParam<T>(sorter: SorterResult<T> | SorterResult<T>[]): string | undefined {
  const first = Array.isArray(sorter) ? sorter[0] : sorter;
  if (!first || !first.order || first.columnKey === undefined) return undefined;
  const key = String(first.columnKey);
  return first.order === 'descend' ? `-${key}` : key;
}

export function DataTable<T extends object>({
  label,
  columns,
  load,
  rowKey,
  deps = [],
  defaultPageSize = 50,
  defaultSort,
  param = '',
  onLoaded,
  scrollX,
}: DataTableProps<T>) {
  const { t } = useI18n();
  const [params, setParams] = useSearchParams();
  const pageKey = `${param}page`;
  const sizeKey = `${param}size`;
  const sortKey = `${param}sort`;
  const page = Math.max(1, Number.parseInt(params.get(pageKey) ?? '1', 10) || 1);
  const pageSize = PAGE_SIZES.includes(Number(params.get(sizeKey))) ? Number(params.get(sizeKey)) : defaultPageSize;
  const sort = params.get(sortKey) ?? defaultSort ?? undefined;

  const state = useApi(
    async (signal) => {
      const result = await load({ page, page_size: pageSize, sort }, signal);
      onLoaded?.(result);
      return result;
    },
    [page, pageSize, sort, ...deps],
  );

  const current = parseSort(sort);
  const shownColumns = useMemo(
    () =>
      columns.map((column) =>
        column.sorter
          ? { ...column, sortOrder: current.field === column.key ? current.order : null }
          : column,
      ),
    [columns, current.field, current.order],
  );

  const onChange = (
    pagination: TablePaginationConfig,
    _filters: unknown,
    sorter: SorterResult<T> | SorterResult<T>[],
  ) => {
    const next = new URLSearchParams(params);
    const nextSort = sortParam(sorter);
    const sortChanged = (nextSort ?? '') !== (sort ?? '');
    const nextSize = pagination.pageSize ?? pageSize;
    const nextPage = sortChanged || nextSize !== pageSize ? 1 : (pagination.current ?? 1);
    if (nextPage > 1) next.set(pageKey, String(nextPage));
    else next.delete(pageKey);
    if (nextSize !== defaultPageSize) next.set(sizeKey, String(nextSize));
    else next.delete(sizeKey);
    if (nextSort && nextSort !== defaultSort) next.set(sortKey, nextSort);
    else if (nextSort === undefined && defaultSort) next.set(sortKey, '');
    else next.delete(sortKey);
    setParams(next, { replace: false });
  };

  return (
    <div className="data-table" data-loading={state.loading ? 'true' : 'false'}>
      <ApiErrorAlert error={state.error} onRetry={state.reload} />
      <Table<T>
        aria-label={label}
        size="small"
        bordered

        rowKey={rowKey}
        columns={shownColumns}
        dataSource={state.data?.items ?? []}
        loading={state.loading}
        onChange={onChange}
        scroll={scrollX ? { x: scrollX } : undefined}
        showSorterTooltip={false}
        pagination={{
          current: page,
          pageSize,
          total: state.data?.total ?? 0,
          pageSizeOptions: PAGE_SIZES,
          showSizeChanger: true,
          showQuickJumper: true,
          showTotal: (total) => t('common.total', { total: total.toLocaleString() }),
          size: 'small',
        }}
      />
    </div>
  );
}
