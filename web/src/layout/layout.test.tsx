import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { COLLECTOR, MANAGER, renderScreen } from '../test/helpers';
import { AppLayout } from './AppLayout';

function menuLabels(): string[] {
  return Array.from(document.querySelectorAll('[data-testid="side-menu"] a')).map((a) => a.textContent ?? '');
}

describe('navigation by role', () => {
  it('shows a manager every screen', () => {
    renderScreen(<AppLayout><div /></AppLayout>, { user: MANAGER });
    expect(menuLabels()).toEqual(['仪表盘', '客户', '贷款', '数据导入', '日终批处理', '贷款计算器']);
    expect(screen.getByTestId('user-role')).toHaveTextContent('催收经理');
  });

  it('shows a collector only what the role may use', () => {
    renderScreen(<AppLayout><div /></AppLayout>, { user: COLLECTOR });
    expect(menuLabels()).toEqual(['客户', '贷款', '贷款计算器']);
  });

  it('speaks English when asked', () => {
    renderScreen(<AppLayout><div /></AppLayout>, { user: COLLECTOR, locale: 'en-US' });
    expect(menuLabels()).toEqual(['Customers', 'Loans', 'Loan calculator']);
  });
});
