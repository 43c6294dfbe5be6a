import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endedBefore, parseRetentionPeriod } from '../../src/domain/retention.js';

describe('retention periods', () => {
  it('reads years, months, weeks and days as calendar intervals', () => {
    expect(parseRetentionPeriod('2y')).toEqual({ text: '2y', interval: '2 years' });
    expect(parseRetentionPeriod('18m')).toEqual({ text: '18m', interval: '18 mons' });
    expect(parseRetentionPeriod('26w')).toEqual({ text: '26w', interval: '182 days' });
    expect(parseRetentionPeriod(' 90d ')).toEqual({ text: '90d', interval: '90 days' });
    expect(parseRetentionPeriod('100y')).toEqual({ text: '100y', interval: '100 years' });
  });

  it('refuses anything else, saying what it takes', () => {
    for (const text of [
      '',
      '2',
      'y',
      '0y',
      '02y',
      '1.5y',
      '-1y',
      '2 y',
      '2Y',
      '2yr',
      '1h',
      '101y',
      '1300m',
      '99999d',
    ]) {
      expect(parseRetentionPeriod(text), text).toHaveProperty('problem');
    }
  });

  it('gives every accepted period an interval of the same amount and unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 36_525 }), fc.constantFrom('y', 'm', 'w', 'd'), (amount, unit) => {
        const period = parseRetentionPeriod(`${amount}${unit}`);
        if ('problem' in period) return;
        const [count, name] = period.interval.split(' ');
        expect(Number(count)).toBe(unit === 'w' ? amount * 7 : amount);
        expect(name).toBe({ y: 'years', m: 'mons', w: 'days', d: 'days' }[unit]);
      }),
    );
  });

  it('never puts an ongoing record past the horizon', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 0, max: 2 ** 40 })),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (end, horizon) => {
          expect(endedBefore(end, horizon)).toBe(end !== null && end < horizon);
        },
      ),
    );
    expect(endedBefore(null, Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(endedBefore(99, 100)).toBe(true);
    expect(endedBefore(100, 100)).toBe(false);
  });
});
