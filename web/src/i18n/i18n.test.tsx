import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { I18nProvider, translate, useI18n } from './I18n';
import { en, zh } from './messages';

function Probe() {
  const { t, setLocale } = useI18n();
  return (
    <div>
      <span>{t('nav.dashboard')}</span>
      <button onClick={() => setLocale('en-US')}>switch</button>
    </div>
  );
}

describe('i18n', () => {
  it('speaks Simplified Chinese by default and switches to English', async () => {
    localStorage.clear();
    render(
      <I18nProvider>
        <Probe />
      </I18nProvider>,
    );
    expect(screen.getByText('仪表盘')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'switch' }));
    expect(screen.getByText('Dashboard')).toBeInTheDocument();
    expect(localStorage.getItem('arrears.locale')).toBe('en-US');
  });

  it('has an English word for every Chinese one', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zh).sort());
    for (const value of Object.values(en)) expect(value.trim()).not.toBe('');
  });

  it('fills in values', () => {
    expect(translate('zh-CN', 'common.total', { total: '1,234' })).toBe('共 1,234 条');
    expect(translate('en-US', 'common.total', { total: 3 })).toBe('3 in all');
  });
});
