// Problems from the API (RFC 9457 problem+json) as one error type the pages can show.
export interface FieldProblem {
  field: string;
  message: string;
}

export interface ProblemBody {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  errors?: FieldProblem[];
  [member: string]: unknown;
}

/** An API call that did not succeed: the server's problem, or a network failure. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly fieldErrors: FieldProblem[];
  readonly problem: ProblemBody;

  constructor(status: number, problem: ProblemBody) {
    const detail = problem.detail || problem.title || `HTTP ${status}`;
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code || (status === 0 ? 'network_error' : `http_${status}`);
    this.detail = detail;
    this.fieldErrors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
  }

  get isNetwork(): boolean {
    return this.status === 0;
  }
}

/** Any thrown value as an ApiError, so every page shows errors the same way. */
export function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof DOMException && error.name === 'AbortError') {
    return new ApiError(0, { code: 'aborted', detail: 'The request was cancelled.' });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ApiError(0, { code: 'network_error', detail: message });
}

/** The problem in a response body, whatever its shape (problem+json, JSON, text or none). */
export function problemOf(status: number, body: unknown): ApiError {
  if (body && typeof body === 'object') return new ApiError(status, body as ProblemBody);
  if (typeof body === 'string' && body.trim()) {
    return new ApiError(status, { detail: body.trim().slice(0, 500) });
  }
  return new ApiError(status, {});
}
