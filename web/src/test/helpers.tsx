// Rendering a screen in tests: providers, a router at a given address, a fixed user, and
// a fetch stub answering by method and path.
import type { ReactElement } from 'react';
import { render } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { vi } from 'vitest';
import { StaticAuthProvider } from '../auth/AuthContext';
import type { CurrentUser } from '../auth/permissions';
import { Localised } from '../App';
import { I18nProvider } from '../i18n/I18n';
import type { Locale } from '../i18n/messages';

export const MANAGER: CurrentUser = {
  username: 'zhou.min',
  display_name: '周敏',
  role: 'manager',
  permissions: [
    'customers:read', 'customers:write', 'customers:reveal', 'loans:read', 'loans:write',
    'products:read', 'products:write', 'payments:read', 'payments:write', 'payments:reverse',
    'imports:run', 'exports:run', 'approvals:read', 'approvals:request', 'approvals:decide',
    'schedule:preview', 'eod:run', 'eod:read', 'holds:write', 'analytics:read',
  ],
  must_change_password: false,
};

export const COLLECTOR: CurrentUser = {
  username: 'li.na',
  display_name: '李娜',
  role: 'collector',
  permissions: [
    'customers:read', 'loans:read', 'payments:read', 'products:read', 'customers:reveal',
    'schedule:preview', 'approvals:read', 'approvals:request',
  ],
  must_change_password: false,
};

export function renderScreen(
  element: ReactElement,
  { path = '/', user = MANAGER, locale = 'zh-CN' }: { path?: string; user?: CurrentUser; locale?: Locale } = {},
) {
  return render(
    <I18nProvider locale={locale}>
      <Localised>
        <StaticAuthProvider user={user}>
          <MemoryRouter initialEntries={[path]}>{element}</MemoryRouter>
        </StaticAuthProvider>
      </Localised>
    </I18nProvider>,
  );
}

export type Route = (url: URL, request: Request) => unknown | Promise<unknown>;

export interface FetchStub {
  calls: { method: string; url: URL; headers: Headers; body: string }[];
}

/** Answer fetches with JSON from `routes["GET /api/v1/..."]`; a Response is sent as is. */
export function stubFetch(routes: Record<string, Route | unknown>): FetchStub {
  const stub: FetchStub = { calls: [] };
  vi.stubGlobal('fetch', async (input: Request | string, init?: RequestInit) => {
    const request = typeof input === 'string' ? new Request(new URL(input, 'http://localhost'), init) : input;
    const url = new URL(request.url);
    const body = request.method === 'GET' ? '' : await request.clone().text();
    stub.calls.push({ method: request.method, url, headers: request.headers, body });
    const route = routes[`${request.method} ${url.pathname}`];
    if (route === undefined) {
      return new Response(JSON.stringify({ status: 404, code: 'not_found', detail: `no stub for ${url.pathname}` }), {
        status: 404,
        headers: { 'content-type': 'application/problem+json' },
      });
    }
    const answer = typeof route === 'function' ? await (route as Route)(url, request) : route;
    if (answer instanceof Response) return answer;
    return new Response(JSON.stringify(answer), { status: 200, headers: { 'content-type': 'application/json' } });
  });
  return stub;
}

export function problem(status: number, code: string, detail: string, extra: Record<string, unknown> = {}): Response {
  return new Response(JSON.stringify({ type: `https://arrears.dev/problems/${code}`, title: code, status, code, detail, ...extra }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });
}
