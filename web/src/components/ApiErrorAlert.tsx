// How every page shows a failed API call: the server's own sentence (problem+json
// `detail`), the field problems under it, and a retry button — never a blank page.
import { Alert, Button } from 'antd';
import type { ApiError } from '../api/errors';
import { useI18n } from '../i18n/I18n';

export function ApiErrorAlert({ error, onRetry }: { error: ApiError | undefined | null; onRetry?: () => void }) {
  const { t } = useI18n();
  if (!error) return null;
  const message = error.isNetwork && error.code !== 'aborted' ? t('error.network') : error.detail;
  const title =
    error.status === 403 ? t('error.forbidden') : error.status === 404 ? t('error.notFound') : t('error.title');
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      data-testid="api-error"
      data-code={error.code}
      title={title}
      description={
        <div>
          <div>{message}</div>
          {error.fieldErrors.length > 0 && (
            <ul className="field-errors">
              {error.fieldErrors.map((problem) => (
                <li key={`${problem.field}:${problem.message}`}>
                  <code>{problem.field}</code>: {problem.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      }
      action={
        onRetry ? (
          <Button size="small" onClick={onRetry}>
            {t('error.retry')}
          </Button>
        ) : undefined
      }
    />
  );
}
