// The Liquid filters that write dates and amounts as the customer reads them (channels/format.ts): Intl in the
// customer's zone and locale, inside the sandboxed template engine.
import { describe, expect, it } from 'vitest';
import { localDate, localDateTime, money } from '../channels/format.js';
import { renderContent, TemplateStore } from '../channels/templates.js';

const MIDNIGHT_UTC = '2027-11-30T00:00:00Z';

describe('local_date, local_datetime and money through Intl', () => {
  it.each([
    ['zh-CN in Shanghai', 'Asia/Shanghai', 'zh-CN', '2027年11月30日'],
    ['en in Shanghai', 'Asia/Shanghai', 'en', '30 Nov 2027'],
    ['en-GB in London', 'Europe/London', 'en-GB', '30 Nov 2027'],
    // Midnight UTC is still the 29th on the American west coast: the customer's calendar day, not UTC's.
    ['en in Los Angeles', 'America/Los_Angeles', 'en', '29 Nov 2027'],
    ['en-US in New York', 'America/New_York', 'en-US', 'Nov 29, 2027'],
    ['zh-CN in New York', 'America/New_York', 'zh-CN', '2027年11月29日'],
  ])('a date for %s', (_name, zone, locale, expected) => {
    expect(localDate(MIDNIGHT_UTC, zone, locale)).toBe(expected);
  });

  it('a date and time on the 24-hour clock in the zone', () => {
    expect(localDateTime(MIDNIGHT_UTC, 'Asia/Shanghai', 'zh-CN')).toBe('2027年11月30日 08:00');
    expect(localDateTime(MIDNIGHT_UTC, 'Asia/Shanghai', 'en')).toBe('30 Nov 2027, 08:00');
    expect(localDateTime('2027-06-30T12:30:00Z', 'Europe/London', 'en')).toBe('30 Jun 2027, 13:30'); // summer time
  });

  it('money: yuan by default, another currency when named, numbers given as text too', () => {
    expect(money(80000, undefined, 'zh-CN')).toBe('¥80,000.00');
    expect(money('80000', undefined, 'zh-CN')).toBe('¥80,000.00');
    expect(money(80000, 'CNY', 'en')).toBe('CN¥80,000.00');
    expect(money(1234.5, 'USD', 'en-US')).toBe('$1,234.50');
    expect(money(-12.345, 'CNY', 'zh-CN')).toBe('-¥12.35');
  });

  it('a value it cannot read is shown as given (a send is not failed over a format), a missing one as nothing', () => {
    expect(localDate('next Tuesday', 'Asia/Shanghai', 'zh-CN')).toBe('next Tuesday');
    expect(localDate(undefined, 'Asia/Shanghai', 'zh-CN')).toBe('');
    expect(money('a lot', undefined, 'en')).toBe('a lot');
    expect(money(null, undefined, 'en')).toBe('');
    // An unknown zone or a malformed locale falls back (UTC, British English) instead of throwing.
    expect(localDate(MIDNIGHT_UTC, 'Mars/Olympus', 'en')).toBe('30 Nov 2027');
    expect(localDate(MIDNIGHT_UTC, 'UTC', '!!')).toBe('30 Nov 2027');
  });
});

describe('the filters in the template engine', () => {
  const vars = (locale: string, timeZone: string) => ({ customer: { name: 'Li', locale, timeZone }, event: { limit: 80000, expiresAt: MIDNIGHT_UTC }, params: {} });

  it("read the customer's zone and locale, and take both as arguments", () => {
    const content = { text: '{{ event.limit | money }} / {{ event.expiresAt | local_date }} / {{ event.expiresAt | local_date: "America/Los_Angeles", "en-US" }}' };
    expect(renderContent(content, 'sms', vars('zh-CN', 'Asia/Shanghai')).text).toBe('¥80,000.00 / 2027年11月30日 / Nov 29, 2027');
    expect(renderContent(content, 'sms', vars('en', 'America/Los_Angeles')).text).toBe('CN¥80,000.00 / 29 Nov 2027 / Nov 29, 2027');
  });

  it('escape their output in HTML like any other output', () => {
    const out = renderContent({ text: 'x', html: '<b>{{ event.when | local_date }}</b>' }, 'email', { customer: { locale: 'en' }, event: { when: '<script>' } });
    expect(out.html).toBe('<b>&lt;script&gt;</b>');
  });

  it('the seed templates show the approval limit and its expiry as a Chinese or an English reader expects', () => {
    const templates = TemplateStore.fromFiles();
    const zh = templates.render('loan-approved', 'email', 'zh-CN', vars('zh-CN', 'Asia/Shanghai'));
    expect(zh.subject).toBe('贷款已获批：额度 ¥80,000.00');
    expect(zh.text).toContain('您的授信额度 ¥80,000.00 已获批，有效期至 2027年11月30日');
    const en = templates.render('loan-approved', 'email', 'en', vars('en', 'Europe/London'));
    expect(en.text).toContain('Your credit limit of CN¥80,000.00 is approved and valid until 30 Nov 2027');
    const reminder = templates.render('loan-repayment-reminder', 'sms', 'zh-CN', { ...vars('zh-CN', 'Asia/Shanghai'), event: { dueAt: '2027-12-15T00:00:00+08:00' } });
    expect(reminder.text).toContain('将于 2027年12月15日 到期还款');
  });
});
