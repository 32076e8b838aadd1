import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../api/errors';
import type { Page as ApiPage } from '../api/types';
import { renderScreen } from '../test/helpers';
import { ApiErrorAlert } from './ApiErrorAlert';
import { DataTable, parseSort, type TableQuery } from './DataTable';
import { Money } from './Money';

interface Row {
  ref: string;
  dpd: number;
}

function pageOf(items: Row[], total = items.length, page = 1): ApiPage<Row> {
  return { items, total, page, page_size: 50 };
}

describe('ApiErrorAlert', () => {
  it('shows the server sentence and the field problems', () => {
    const error = new ApiError(422, {
      code: 'validation_failed',
      detail: 'The request is not valid: body.principal: Input should be greater than 0.',
      errors: [{ field: 'body.principal', message: 'Input should be greater than 0' }],
    });
    renderScreen(<ApiErrorAlert error={error} />);
    const alert = screen.getByTestId('api-error');
    expect(alert).toHaveTextContent('The request is not valid');
    expect(within(alert).getByText('body.principal')).toBeInTheDocument();
  });

  it('says the server cannot be reached on a network failure', () => {
    renderScreen(<ApiErrorAlert error={new ApiError(0, { code: 'network_error', detail: 'Failed to fetch' })} />);
    expect(screen.getByTestId('api-error')).toHaveTextContent('无法连接服务器');
  });
});

describe('Money', () => {
  it('formats for the locale', () => {
    renderScreen(<Money value="1234.56" currency="CNY" />);
    expect(screen.getByText('¥1,234.56')).toBeInTheDocument();
  });
});

describe('DataTable', () => {
  const columns = [
    { title: 'Ref', dataIndex: 'ref', key: 'ref', sorter: true },
    { title: 'DPD', dataIndex: 'dpd', key: 'past_due_days', sorter: true },
  ];

  it('asks the server for a page and shows its rows and total', async () => {
    const load = vi.fn(async (_q: TableQuery) => pageOf([{ ref: 'L1', dpd: 3 }, { ref: 'L2', dpd: 40 }], 1_000_000));
    renderScreen(<DataTable<Row> label="loans" columns={columns} rowKey={(r) => r.ref} load={load} />);
    expect(await screen.findByText('L2')).toBeInTheDocument();
    expect(load).toHaveBeenCalledWith({ page: 1, page_size: 50, sort: undefined }, expect.anything());
    expect(screen.getByText('共 1,000,000 条')).toBeInTheDocument();
  });

  it('sorts on the server when a column header is clicked', async () => {
    const load = vi.fn(async (_q: TableQuery) => pageOf([{ ref: 'L1', dpd: 3 }]));
    renderScreen(<DataTable<Row> label="loans" columns={columns} rowKey={(r) => r.ref} load={load} />);
    await screen.findByText('L1');
    await userEvent.click(screen.getAllByText('DPD')[0]!);
    await waitFor(() => expect(load).toHaveBeenLastCalledWith({ page: 1, page_size: 50, sort: 'past_due_days' }, expect.anything()));
    await userEvent.click(screen.getAllByText('DPD')[0]!);
    await waitFor(() => expect(load).toHaveBeenLastCalledWith({ page: 1, page_size: 50, sort: '-past_due_days' }, expect.anything()));
  });

  it('reads the page and sort from the address', async () => {
    const load = vi.fn(async (_q: TableQuery) => pageOf([{ ref: 'L9', dpd: 0 }], 500, 3));
    renderScreen(<DataTable<Row> label="loans" columns={columns} rowKey={(r) => r.ref} load={load} />, {
      path: '/loans?page=3&size=100&sort=-past_due_days',
    });
    await screen.findByText('L9');
    expect(load).toHaveBeenCalledWith({ page: 3, page_size: 100, sort: '-past_due_days' }, expect.anything());
  });

  it('shows an API error instead of a blank table', async () => {
    const load = vi.fn(async () => {
      throw new ApiError(422, { code: 'invalid_sort', detail: "cannot sort by 'name'" });
    });
    renderScreen(<DataTable<Row> label="loans" columns={columns} rowKey={(r) => r.ref} load={load} />);
    expect(await screen.findByText("cannot sort by 'name'")).toBeInTheDocument();
  });

  it('parses the sort parameter', () => {
    expect(parseSort('-past_due_days,loan_ref')).toEqual({ field: 'past_due_days', order: 'descend' });
    expect(parseSort('loan_ref')).toEqual({ field: 'loan_ref', order: 'ascend' });
    expect(parseSort(undefined)).toEqual({ order: null });
  });
});
