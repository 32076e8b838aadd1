// Providers and routes. Routes come from SCREENS; each checks its permission, so an
// address typed by hand shows "not allowed" rather than a broken page.
import { useEffect, type ReactNode } from 'react';
import { App as AntApp, Button, ConfigProvider, Result, Spin, theme } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { BrowserRouter, Link, Navigate, Route, Routes, useLocation } from 'react-router';
import { AuthProvider, useAuth } from './auth/AuthContext';
import { can } from './auth/permissions';
import { I18nProvider, useI18n } from './i18n/I18n';
import { AppLayout } from './layout/AppLayout';
import SignIn from './pages/SignIn';
import { SCREENS } from './screens';

function Localised({ children }: { children: ReactNode }) {
  const { locale } = useI18n();
  useEffect(() => {
    dayjs.locale(locale === 'zh-CN' ? 'zh-cn' : 'en');
    document.documentElement.lang = locale;
  }, [locale]);
  return (
    <ConfigProvider
      locale={locale === 'zh-CN' ? zhCN : enUS}
      componentSize="middle"
      theme={{
        algorithm: [theme.defaultAlgorithm, theme.compactAlgorithm],
        token: {
          colorPrimary: '#1d39c4',
          borderRadius: 4,
          fontFamily:
            '-apple-system, BlinkMacSystemFont, "Segoe UI", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Helvetica Neue", Arial, sans-serif',
          colorTextSecondary: 'rgba(0, 0, 0, 0.65)',
        },
      }}
    >
      <AntApp>{children}</AntApp>
    </ConfigProvider>
  );
}

export function Forbidden() {
  const { t } = useI18n();
  return (
    <Result
      status="403"
      title="403"
      subTitle={t('error.forbidden')}
      extra={
        <Link to="/">
          <Button type="primary">{t('error.backHome')}</Button>
        </Link>
      }
    />
  );
}

export function NotFound() {
  const { t } = useI18n();
  return (
    <Result
      status="404"
      title={t('error.notFound')}
      subTitle={t('error.notFoundDetail')}
      extra={
        <Link to="/">
          <Button type="primary">{t('error.backHome')}</Button>
        </Link>
      }
    />
  );
}

/** Signed-in users only; the rest go to sign-in and come back afterwards. */
function Protected({ children }: { children: ReactNode }) {
  const { state } = useAuth();
  const location = useLocation();
  const { t } = useI18n();
  if (state === 'checking') return <Spin className="page-spin" description={t('app.loading')} fullscreen />;
  if (state === 'signed-out') {
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={`/sign-in?next=${encodeURIComponent(next)}`} replace />;
  }
  return <>{children}</>;
}

function Home() {
  const { user } = useAuth();
  const dashboard = SCREENS.find((s) => s.key === 'dashboard')!;
  if (can(user, dashboard.permission)) {
    const Page = dashboard.page;
    return <Page />;
  }
  const first = SCREENS.find((s) => s.menu && can(user, s.permission));
  return first ? <Navigate to={first.path} replace /> : <Forbidden />;
}

export function AppRoutes() {
  const { user } = useAuth();
  return (
    <Routes>
      <Route path="/sign-in" element={<SignIn />} />
      <Route
        path="*"
        element={
          <Protected>
            <AppLayout>
              <Routes>
                <Route path="/" element={<Home />} />
                {SCREENS.filter((s) => s.path !== '/').map((screen) => {
                  const Page = screen.page;
                  return (
                    <Route
                      key={screen.key}
                      path={screen.path}
                      element={can(user, screen.permission) ? <Page /> : <Forbidden />}
                    />
                  );
                })}
                <Route path="*" element={<NotFound />} />
              </Routes>
            </AppLayout>
          </Protected>
        }
      />
    </Routes>
  );
}

export default function App() {
  return (
    <I18nProvider>
      <Localised>
        <AuthProvider>
          <BrowserRouter>
            <AppRoutes />
          </BrowserRouter>
        </AuthProvider>
      </Localised>
    </I18nProvider>
  );
}

export { Localised };
