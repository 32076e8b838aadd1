// Every screen of the console, in one list: its address, the permission it needs, where it
// sits in the side menu. The router and the menu are both built from this list, so a later
// screen (the collector workbench, strategies, communications, reports) is one entry here
// plus its page component — see docs/console.md. Pages are bundled with the shell rather
// than loaded on demand: a page then costs no extra round trip after sign-in, which keeps
// every screen under the one-second budget.
import type { ComponentType, ReactNode } from 'react';
import {
  BarChartOutlined,
  CalculatorOutlined,
  CloudUploadOutlined,
  FileTextOutlined,
  ScheduleOutlined,
  TeamOutlined,
} from '@ant-design/icons';
import type { Permission } from './auth/permissions';
import Dashboard from './pages/Dashboard';
import Customers from './pages/Customers';
import CustomerDetail from './pages/CustomerDetail';
import Loans from './pages/Loans';
import LoanDetail from './pages/LoanDetail';
import Imports from './pages/Imports';
import Runs from './pages/Runs';
import Calculator from './pages/Calculator';
import type { MessageKey } from './i18n/messages';

export type MenuGroup = 'portfolio' | 'operations' | 'tools';

export interface Screen {
  key: string;
  path: string;
  permission?: Permission;
  page: ComponentType;
  /** Shown in the side menu when given. */
  menu?: { label: MessageKey; icon: ReactNode; group: MenuGroup };
  /** The menu entry to highlight (for detail pages). */
  parent?: string;
}

export const MENU_GROUPS: { key: MenuGroup; label: MessageKey }[] = [
  { key: 'portfolio', label: 'nav.group.portfolio' },
  { key: 'operations', label: 'nav.group.operations' },
  { key: 'tools', label: 'nav.group.tools' },
];

export const SCREENS: Screen[] = [
  {
    key: 'dashboard',
    path: '/',
    permission: 'analytics:read',
    page: Dashboard,
    menu: { label: 'nav.dashboard', icon: <BarChartOutlined />, group: 'portfolio' },
  },
  {
    key: 'customers',
    path: '/customers',
    permission: 'customers:read',
    page: Customers,
    menu: { label: 'nav.customers', icon: <TeamOutlined />, group: 'portfolio' },
  },
  {
    key: 'customer',
    path: '/customers/:ref',
    permission: 'customers:read',
    page: CustomerDetail,
    parent: 'customers',
  },
  {
    key: 'loans',
    path: '/loans',
    permission: 'loans:read',
    page: Loans,
    menu: { label: 'nav.loans', icon: <FileTextOutlined />, group: 'portfolio' },
  },
  {
    key: 'loan',
    path: '/loans/:ref',
    permission: 'loans:read',
    page: LoanDetail,
    parent: 'loans',
  },
  {
    key: 'imports',
    path: '/imports',
    permission: 'imports:run',
    page: Imports,
    menu: { label: 'nav.imports', icon: <CloudUploadOutlined />, group: 'operations' },
  },
  {
    key: 'runs',
    path: '/runs',
    permission: 'eod:read',
    page: Runs,
    menu: { label: 'nav.runs', icon: <ScheduleOutlined />, group: 'operations' },
  },
  {
    key: 'calculator',
    path: '/calculator',
    permission: 'schedule:preview',
    page: Calculator,
    menu: { label: 'nav.calculator', icon: <CalculatorOutlined />, group: 'tools' },
  },
];

/** The screen a path shows, for highlighting the menu. */
export function screenOf(pathname: string): Screen | undefined {
  const matches = SCREENS.filter((screen) => {
    if (screen.path === '/') return pathname === '/';
    const pattern = new RegExp(`^${screen.path.replace(/:[^/]+/g, '[^/]+')}/?$`);
    return pattern.test(pathname);
  });
  return matches[0];
}
