// File uploads with progress. fetch() cannot report upload progress, so imports go through
// XMLHttpRequest; the response is the same typed report the schema describes.
import { getCsrfToken, notifyUnauthenticated } from './client';
import { ApiError, problemOf } from './errors';
import type { ImportKind, ImportReport } from './types';

export interface UploadProgress {
  /** 0–100 while the file is sent; null once it is sent and the server is working. */
  percent: number | null;
}

export interface ImportOptions {
  dryRun: boolean;
  skipInvalid: boolean;
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

export function uploadImport(
  kind: ImportKind,
  file: File,
  { dryRun, skipInvalid, onProgress, signal }: ImportOptions,
): Promise<ImportReport> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const query = new URLSearchParams({ dry_run: String(dryRun), skip_invalid: String(skipInvalid) });
    xhr.open('POST', `/api/v1/imports/${encodeURIComponent(kind)}?${query}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json, application/problem+json');
    const csrf = getCsrfToken();
    if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) {
        onProgress?.({ percent: Math.round((event.loaded / event.total) * 100) });
      }
    };
    xhr.upload.onload = () => onProgress?.({ percent: null });
    xhr.onerror = () =>
      reject(new ApiError(0, { code: 'network_error', detail: 'The server could not be reached.' }));
    xhr.onabort = () => reject(new ApiError(0, { code: 'aborted', detail: 'The upload was cancelled.' }));
    xhr.onload = () => {
      let body: unknown = xhr.responseText;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: keep the text for the error message
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body as ImportReport);
        return;
      }
      const error = problemOf(xhr.status, body);
      if (xhr.status === 401) notifyUnauthenticated(error);
      reject(error);
    };
    signal?.addEventListener('abort', () => xhr.abort());
    const form = new FormData();
    form.append('file', file, file.name);
    onProgress?.({ percent: 0 });
    xhr.send(form);
  });
}
