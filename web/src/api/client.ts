// The typed API client. Paths, parameters and bodies come from schema.d.ts, generated from
// the server's OpenAPI document (npm run api:types), so a changed endpoint fails `tsc`.
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';
import { ApiError, asApiError, problemOf } from './errors';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const CSRF_KEY = 'arrears.csrf';

let csrfToken: string | null = readStoredCsrf();
let onUnauthenticated: ((error: ApiError) => void) | null = null;

function readStoredCsrf(): string | null {
  try {
    return sessionStorage.getItem(CSRF_KEY);
  } catch {
    return null;
  }
}

/** Remember the session's CSRF token (in memory, and for this tab across reloads). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
  try {
    if (token) sessionStorage.setItem(CSRF_KEY, token);
    else sessionStorage.removeItem(CSRF_KEY);
  } catch {
    // storage may be unavailable (private mode); memory is enough for this page's life
  }
}

export function getCsrfToken(): string | null {
  return csrfToken;
}

/** Called with the problem whenever the API answers 401: the session has ended. */
export function setUnauthenticatedHandler(handler: ((error: ApiError) => void) | null): void {
  onUnauthenticated = handler;
}

export function notifyUnauthenticated(error: ApiError): void {
  onUnauthenticated?.(error);
}

const SIGN_IN_PATHS = ['/api/v1/auth/session', '/api/v1/auth/token'];

const sessionMiddleware: Middleware = {
  onRequest({ request }) {
    if (UNSAFE.has(request.method.toUpperCase()) && csrfToken) {
      request.headers.set('X-CSRF-Token', csrfToken);
    }
    request.headers.set('Accept', 'application/json, application/problem+json');
    return request;
  },
  onResponse({ request, response }) {
    const path = new URL(request.url).pathname;
    const isSignIn = SIGN_IN_PATHS.includes(path) && request.method.toUpperCase() === 'POST';
    if (response.status === 401 && !isSignIn) {
      void response
        .clone()
        .json()
        .catch(() => ({}))
        .then((body) => notifyUnauthenticated(problemOf(401, body)));
    }
    return response;
  },
};

function origin(): string {
  return typeof window !== 'undefined' ? window.location.origin : 'http://localhost';
}

// fetch is looked up at call time, so tests can stub it
export const api = createClient<paths>({
  baseUrl: origin(),
  credentials: 'same-origin',
  fetch: (request: Request) => globalThis.fetch(request),
});
api.use(sessionMiddleware);

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a call, or an ApiError with the server's readable sentence. */
export async function unwrap<T>(call: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await call;
  } catch (error) {
    throw asApiError(error);
  }
  if (!result.response.ok) throw problemOf(result.response.status, result.error);
  return result.data as T;
}

export type { paths };
