// Sign-in: user name and password open a cookie session. A one-time password must be
// changed first; after signing in the user returns to the page they asked for.
import { useState } from 'react';
import { Alert, Button, Card, Form, Input, Segmented, Typography } from 'antd';
import { LockOutlined, UserOutlined } from '@ant-design/icons';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { asApiError, type ApiError } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { ApiErrorAlert } from '../components/ApiErrorAlert';
import { useI18n } from '../i18n/I18n';
import type { Locale } from '../i18n/messages';

function safeNext(next: string | null): string {
  // only paths of this console: never another site
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/sign-in') ? next : '/';
}

export default function SignIn() {
  const { t, locale, setLocale } = useI18n();
  const { state, user, reason, signIn, changePassword } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [changed, setChanged] = useState(false);
  const next = safeNext(params.get('next'));

  if (state === 'signed-in' && user && !user.must_change_password) return <Navigate to={next} replace />;

  const onSignIn = async (values: { username: string; password: string }) => {
    setBusy(true);
    setError(null);
    try {
      const me = await signIn(values.username.trim(), values.password);
      if (!me.must_change_password) navigate(next, { replace: true });
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  const onChange = async (values: { current: string; next: string }) => {
    setBusy(true);
    setError(null);
    try {
      await changePassword(values.current, values.next);
      setChanged(true);
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  };

  const mustChange = state === 'signed-in' && user?.must_change_password;

  return (
    <main className="sign-in">
      <Card className="sign-in-card" data-page="sign-in" data-ready="true">
        <Typography.Title level={1} style={{ fontSize: 22, marginTop: 0 }}>
          {t('app.name')}
        </Typography.Title>
        <Typography.Paragraph type="secondary">{t('auth.subtitle')}</Typography.Paragraph>
        {reason === 'expired' && <Alert type="warning" showIcon title={t('auth.expired')} style={{ marginBottom: 12 }} />}
        {reason === 'signed-out' && !changed && (
          <Alert type="info" showIcon title={t('auth.signedOut')} style={{ marginBottom: 12 }} />
        )}
        {changed && <Alert type="success" showIcon title={t('auth.passwordChanged')} style={{ marginBottom: 12 }} />}
        {error && (
          <div style={{ marginBottom: 12 }}>
            <ApiErrorAlert error={error} />
          </div>
        )}
        {mustChange ? (
          <Form layout="vertical" onFinish={onChange} requiredMark={false} aria-label={t('auth.changePassword')}>
            <Alert type="info" showIcon title={t('auth.mustChange')} style={{ marginBottom: 12 }} />
            <Form.Item name="current" label={t('auth.currentPassword')} rules={[{ required: true }]}>
              <Input.Password autoComplete="current-password" />
            </Form.Item>
            <Form.Item name="next" label={t('auth.newPassword')} rules={[{ required: true }]}>
              <Input.Password autoComplete="new-password" />
            </Form.Item>
            <Button type="primary" htmlType="submit" block loading={busy}>
              {t('auth.changePassword')}
            </Button>
          </Form>
        ) : (
          <Form layout="vertical" onFinish={onSignIn} requiredMark={false} aria-label={t('auth.title')}>
            <Form.Item
              name="username"
              label={t('auth.username')}
              rules={[{ required: true, message: t('auth.required', { field: t('auth.username') }) }]}
            >
              <Input prefix={<UserOutlined aria-hidden />} autoComplete="username" autoFocus />
            </Form.Item>
            <Form.Item
              name="password"
              label={t('auth.password')}
              rules={[{ required: true, message: t('auth.required', { field: t('auth.password') }) }]}
            >
              <Input.Password prefix={<LockOutlined aria-hidden />} autoComplete="current-password" />
            </Form.Item>
            <Button type="primary" htmlType="submit" block loading={busy}>
              {t('auth.signIn')}
            </Button>
          </Form>
        )}
        <div style={{ marginTop: 16, textAlign: 'right' }}>
          <Segmented<Locale>
            size="small"
            aria-label={t('app.language')}
            value={locale}
            onChange={(value) => setLocale(value)}
            options={[
              { label: '中文', value: 'zh-CN' },
              { label: 'EN', value: 'en-US' },
            ]}
          />
        </div>
      </Card>
    </main>
  );
}
