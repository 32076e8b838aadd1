// The shell around every screen: the side menu (only the screens the user's role may use),
// the header with the user, the language switch and sign-out, and the content area.
import { Suspense, useMemo, useState, type ReactNode } from 'react';
import { Avatar, Button, Dropdown, Flex, Layout, Menu, Segmented, Spin, Tag, Typography } from 'antd';
import type { MenuProps } from 'antd';
import { LogoutOutlined, MenuFoldOutlined, MenuUnfoldOutlined, UserOutlined } from '@ant-design/icons';
import { Link, useLocation, useNavigate } from 'react-router';
import { useAuth } from '../auth/AuthContext';
import { can } from '../auth/permissions';
import { useI18n } from '../i18n/I18n';
import type { Locale } from '../i18n/messages';
import { MENU_GROUPS, SCREENS, screenOf } from '../screens';

export function useMenuItems(): MenuProps['items'] {
  const { user } = useAuth();
  const { t } = useI18n();
  return useMemo(
    () =>
      MENU_GROUPS.map((group) => ({
        type: 'group' as const,
        key: group.key,
        label: t(group.label),
        children: SCREENS.filter((s) => s.menu?.group === group.key && can(user, s.permission)).map((s) => ({
          key: s.key,
          icon: s.menu!.icon,
          label: <Link to={s.path}>{t(s.menu!.label)}</Link>,
        })),
      })).filter((group) => group.children.length > 0),
    [user, t],
  );
}

export function AppLayout({ children }: { children: ReactNode }) {
  const { user, signOut } = useAuth();
  const { t, tx, locale, setLocale } = useI18n();
  const location = useLocation();
  const navigate = useNavigate();
  const [collapsed, setCollapsed] = useState(false);
  const items = useMenuItems();
  const screen = screenOf(location.pathname);
  const selected = screen ? [screen.parent ?? screen.key] : [];

  const onSignOut = async () => {
    await signOut();
    navigate('/sign-in', { replace: true });
  };

  return (
    <Layout className="shell">
      <a className="skip-link" href="#main">
        {t('app.skip')}
      </a>
      <Layout.Sider
        width={208}
        collapsedWidth={56}
        collapsed={collapsed}
        theme="dark"
        className="shell-sider"
        aria-label="navigation"
      >
        <div className="brand" title={t('app.name')}>
          <img src="/favicon.svg" alt="" width={24} height={24} />
          {!collapsed && <span>{t('app.short')}</span>}
        </div>
        <nav aria-label={t('app.name')}>
          <Menu theme="dark" mode="inline" selectedKeys={selected} items={items} data-testid="side-menu" />
        </nav>
      </Layout.Sider>
      <Layout>
        <Layout.Header className="shell-header">
          <Button
            type="text"
            aria-label={collapsed ? 'expand menu' : 'collapse menu'}
            icon={collapsed ? <MenuUnfoldOutlined /> : <MenuFoldOutlined />}
            onClick={() => setCollapsed((c) => !c)}
          />
          <Flex gap={12} align="center">
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
            <Dropdown
              trigger={['click']}
              menu={{
                items: [
                  {
                    key: 'sign-out',
                    icon: <LogoutOutlined />,
                    label: t('auth.signOut'),
                    onClick: () => void onSignOut(),
                  },
                ],
              }}
            >
              <Button type="text" data-testid="user-menu" aria-haspopup="menu">
                <Avatar size="small" icon={<UserOutlined />} />
                <Typography.Text>{user?.display_name || user?.username}</Typography.Text>
                <Tag color="blue" data-testid="user-role">
                  {tx('role', user?.role)}
                </Tag>
              </Button>
            </Dropdown>
          </Flex>
        </Layout.Header>
        <Layout.Content id="main" className="shell-content" tabIndex={-1}>
          <Suspense fallback={<Spin className="page-spin" description={t('app.loading')} />}>{children}</Suspense>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}
