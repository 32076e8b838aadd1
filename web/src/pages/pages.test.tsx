import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { setCsrfToken } from '../api/client';
import { problem, renderScreen, stubFetch } from '../test/helpers';
import { METHODS, previewBody } from './Calculator';
import { customerQuery, detectSearch } from './Customers';
import { installmentState } from './LoanDetail';
import { filtersFrom, filtersTo } from './Loans';

vi.mock('../components/Chart', () => ({
  Chart: ({ label }: { label: string }) => <div role="figure" aria-label={label} />,
  PALETTE: ['#000'],
}));

beforeEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

describe('customer search', () => {
  it('recognises ID numbers, phones and names', () => {
    expect(detectSearch('11010519491231002X')).toBe('id');
    expect(detectSearch('11010519491231002x')).toBe('id');
    expect(detectSearch('138 0013 8000')).toBe('phone');
    expect(detectSearch('+86 13800138000')).toBe('phone');
    expect(detectSearch('张三')).toBe('name');
    expect(detectSearch('C00000012')).toBe('name');
  });

  it('asks the API by the right parameter', () => {
    expect(customerQuery('11010519491231002x', 'auto')).toEqual({ id_number: '11010519491231002X' });
    expect(customerQuery('13800138000', 'auto')).toEqual({ phone: '13800138000' });
    expect(customerQuery('13800138000', 'name')).toEqual({ q: '13800138000' });
    expect(customerQuery('  ', 'auto')).toEqual({});
  });
});

describe('loan filters in the address', () => {
  it('round-trips every filter and restarts paging', () => {
    const params = filtersTo(new URLSearchParams('page=4&sort=-past_due_days'), {
      product_code: 'CASH',
      bucket: ['M2', 'M3'],
      dpd_min: 31,
      dpd_max: 90,
      classification: ['special_mention'],
      status: 'active',
    });
    expect(params.get('page')).toBeNull();
    expect(params.get('sort')).toBe('-past_due_days');
    expect(filtersFrom(params)).toEqual({
      product_code: 'CASH',
      bucket: ['M2', 'M3'],
      dpd_min: 31,
      dpd_max: 90,
      classification: ['special_mention'],
      status: 'active',
      q: undefined,
    });
  });

  it('ignores values that are not filters', () => {
    expect(filtersFrom(new URLSearchParams('dpd_min=-3&classification=bogus'))).toMatchObject({
      dpd_min: undefined,
      classification: [],
    });
  });
});

describe('installment state', () => {
  const row = (outstanding: string, due: string, paid = '0.00') =>
    ({
      number: 1,
      due_date: due,
      principal: '100.00',
      interest: '0.00',
      fee: '0.00',
      total: '100.00',
      paid: { principal: paid, interest: '0.00', fee: '0.00' },
      outstanding: { principal: outstanding, interest: '0.00', fee: '0.00', total: outstanding },
    }) as never;

  it('is overdue when due before the business date and still owed', () => {
    expect(installmentState(row('100.00', '2024-04-01'), '2024-05-31')).toBe('overdue');
    expect(installmentState(row('0.00', '2024-04-01', '100.00'), '2024-05-31')).toBe('paid');
    expect(installmentState(row('100.00', '2024-06-01'), '2024-05-31')).toBe('due');
    expect(installmentState(row('40.00', '2024-06-01', '60.00'), '2024-05-31')).toBe('partial');
  });
});

describe('calculator', () => {
  it('sends amounts and rates as decimal strings, once per method', async () => {
    const dayjs = (await import('dayjs')).default;
    const body = previewBody(
      {
        principal: 630000,
        annual_rate: 4.9,
        months: 360,
        first_due: dayjs('2024-02-15'),
        day_count: '30/360',
        rounding: 'half_up',
        rounding_unit: 'cent',
      },
      'annuity',
    );
    expect(body).toMatchObject({ principal: '630000', annual_rate: '4.9', months: 360, first_due: '2024-02-15', disbursed: null });
    expect(METHODS).toEqual(['annuity', 'equal_principal', 'interest_only', 'bullet']);
  });

  it('previews all four methods and compares them', async () => {
    const schedule = (total: string) => ({
      installments: [{ number: 1, due_date: '2024-02-15', principal: '100.00', interest: '1.00', fee: '0.00', total, balance_after: '0.00' }],
      total_interest: '1.00',
      total_repayment: total,
    });
    const stub = stubFetch({
      'POST /api/v1/schedule/preview': async (_url: URL, request: Request) => {
        const body = (await request.json()) as { method: string };
        return schedule({ annuity: '101.00', equal_principal: '102.00', interest_only: '103.00', bullet: '104.00' }[body.method]!);
      },
    });
    const { default: Calculator } = await import('./Calculator');
    renderScreen(<Calculator />);
    await userEvent.click(screen.getByTestId('calc-submit'));
    const table = await screen.findByTestId('calc-compare');
    expect(within(table).getByText('等额本息')).toBeInTheDocument();
    expect(within(table).getByText('到期一次还本付息')).toBeInTheDocument();
    expect(within(table).getAllByText('¥104.00').length).toBeGreaterThan(0);
    expect(stub.calls.filter((c) => c.method === 'POST')).toHaveLength(4);
  });

  it('shows the server sentence when the terms are refused', async () => {
    stubFetch({
      'POST /api/v1/schedule/preview': () => problem(422, 'validation_failed', 'The request is not valid: body.months: Input should be less than or equal to 600.'),
    });
    const { default: Calculator } = await import('./Calculator');
    renderScreen(<Calculator />);
    await userEvent.click(screen.getByTestId('calc-submit'));
    expect(await screen.findByText(/body.months/)).toBeInTheDocument();
  });
});

describe('dashboard', () => {
  it('shows the portfolio figures for the locale', async () => {
    stubFetch({
      'GET /api/v1/analytics/portfolio': {
        as_of: '2024-05-31', currency: 'CNY', loans: 4, outstanding_principal: '4400.00', outstanding_total: '4400.00',
        m1_plus: { loans: 2, balance: '2400.00', overdue_amount: '600.00', rate_by_count: '0.500000', rate_by_balance: '0.545455' },
        m3_plus: { loans: 1, balance: '1200.00', overdue_amount: '400.00', rate_by_count: '0.250000', rate_by_balance: '0.272727' },
        npl: { loans: 1, balance: '1200.00', ratio_by_count: '0.250000', ratio_by_balance: '0.272727' },
      },
      'GET /api/v1/analytics/buckets': { as_of: '2024-05-31', currency: 'CNY', items: [
        { bucket: 'M0', loans: 2, outstanding_principal: '2000.00', overdue_total: '0.00', share_by_count: '0.500000', share_by_balance: '0.454545' },
      ] },
      'GET /api/v1/analytics/classification': { as_of: '2024-05-31', currency: 'CNY', items: [
        { category: 'substandard', label: '次级', loans: 1, outstanding_principal: '1200.00', share_by_count: '0.250000', share_by_balance: '0.272727' },
      ] },
      'GET /api/v1/analytics/trend': { currency: 'CNY', items: [] },
      'GET /api/v1/analytics/run-status': { business_date: '2024-05-31', latest: null, last_completed: null },
    });
    const { default: Dashboard } = await import('./Dashboard');
    renderScreen(<Dashboard />);
    await waitFor(() => expect(document.querySelector('[data-page="dashboard"]')).toHaveAttribute('data-ready', 'true'));
    expect(screen.getByText('¥4,400.00')).toBeInTheDocument();
    expect(screen.getByText('54.55%')).toBeInTheDocument();
    expect(screen.getAllByText('27.27%').length).toBeGreaterThan(0);
    expect(screen.getByText('次级')).toBeInTheDocument();
    expect(screen.getByText('尚未运行日终批处理')).toBeInTheDocument();
  });

  it('shows the readable message when the API refuses', async () => {
    stubFetch({
      ...Object.fromEntries(
        ['portfolio', 'buckets', 'classification', 'trend', 'run-status'].map((name) => [
          `GET /api/v1/analytics/${name}`,
          () => problem(403, 'forbidden', 'Your role (agency) does not allow eod:read.'),
        ]),
      ),
    });
    const { default: Dashboard } = await import('./Dashboard');
    renderScreen(<Dashboard />);
    expect(await screen.findByText('Your role (agency) does not allow eod:read.')).toBeInTheDocument();
  });
});

describe('customer 360', () => {
  it('masks the ID number and reveals it with a reason', async () => {
    const stub = stubFetch({
      'GET /api/v1/customers/C1': {
        customer_ref: 'C1', type: 'individual', name: '张三', id_number: '11010519491231002X', employer: null,
        monthly_income: null, income_currency: null, time_zone: 'Asia/Shanghai', language: 'zh', city: '北京',
        province: '北京', version: 1, created_at: '2024-01-01T00:00:00Z', updated_at: '2024-01-01T00:00:00Z',
        contact_points: [], loans: [],
      },
      'GET /api/v1/analytics/loans': { items: [], total: 0, page: 1, page_size: 200 },
      'POST /api/v1/customers/C1/reveal': {
        customer_ref: 'C1',
        id_number: '11010519491231002X',
        contact_points: [],
      },
    });
    setCsrfToken('csrf-123');
    const { default: CustomerDetail } = await import('./CustomerDetail');
    renderScreen(
      <Routes>
        <Route path="/customers/:ref" element={<CustomerDetail />} />
      </Routes>,
      { path: '/customers/C1' },
    );
    expect(await screen.findByTestId('id-number')).toHaveTextContent('110105********002X');
    await userEvent.click(screen.getByRole('button', { name: /查看 证件号码/ }));
    await userEvent.click(await screen.findByTestId('reveal-reason'));
    await userEvent.paste('核实借款人身份');
    await userEvent.click(screen.getByRole('button', { name: /确\s*认/ }));
    await waitFor(() => expect(screen.getByTestId('id-number')).toHaveTextContent('11010519491231002X'));
    const reveal = stub.calls.find((c) => c.method === 'POST')!;
    expect(JSON.parse(reveal.body)).toEqual({ reason: '核实借款人身份' });
    expect(reveal.headers.get('X-CSRF-Token')).toBe('csrf-123');
  });
});
