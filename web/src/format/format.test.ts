import { describe, expect, it } from 'vitest';
import { formatMoney, formatNumber, formatPercent } from './format';
import { maskIdNumber, maskPhone } from './mask';

describe('money for the locale', () => {
  it('formats yuan with the ¥ sign and grouping in Chinese', () => {
    expect(formatMoney('1234.56', 'CNY', 'zh-CN')).toBe('¥1,234.56');
  });

  it('uses the same narrow sign in English', () => {
    expect(formatMoney('1234.5', 'CNY', 'en-US')).toBe('¥1,234.50');
  });

  it('keeps every digit of a large amount given as a string', () => {
    expect(formatMoney('99999999999999.99', 'CNY', 'zh-CN')).toBe('¥99,999,999,999,999.99');
  });

  it('shows a dash for a missing or malformed amount', () => {
    expect(formatMoney(null, 'CNY', 'zh-CN')).toBe('—');
    expect(formatMoney('abc', 'CNY', 'zh-CN')).toBe('—');
  });

  it('formats yen without decimals', () => {
    expect(formatMoney('1234', 'JPY', 'en-US')).toBe('¥1,234');
  });
});

describe('ratios and counts', () => {
  it('shows a fraction as a percentage with two decimals', () => {
    expect(formatPercent('0.091200', 'zh-CN')).toBe('9.12%');
    expect(formatPercent('0.545455', 'en-US')).toBe('54.55%');
  });

  it('groups counts', () => {
    expect(formatNumber(1000000, 'zh-CN')).toBe('1,000,000');
  });
});

describe('masks', () => {
  it('keeps the region and check digits of an ID number', () => {
    expect(maskIdNumber('11010519491231002X')).toBe('110105********002X');
  });

  it('leaves an already masked value alone', () => {
    expect(maskIdNumber('110105********002X')).toBe('110105********002X');
  });

  it('masks the middle of a Chinese mobile number', () => {
    expect(maskPhone('+8613800138000')).toBe('138****8000');
  });
});
