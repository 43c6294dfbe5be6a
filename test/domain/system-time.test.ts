import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asOfProblem, endOfSecond, secondOf, systemInstant } from '../../src/domain/system-time.js';

describe('system instants', () => {
  it('write microseconds as a UTC timestamptz literal', () => {
    expect(systemInstant(0n).sql).toBe('1970-01-01T00:00:00.000000Z');
    expect(systemInstant(1_764_842_400_123_456n).sql).toBe('2025-12-04T10:00:00.123456Z');
    expect(() => systemInstant(-1n)).toThrow(RangeError);
  });

  it('take "as known at second T" as the last microsecond of T', () => {
    expect(endOfSecond(100).sql).toBe('1970-01-01T00:01:40.999999Z');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000 }), (second) => {
        expect(secondOf(endOfSecond(second))).toBe(second);
        expect(endOfSecond(second).micros + 1n).toBe(BigInt(second + 1) * 1_000_000n);
      }),
    );
  });

  it('refuse an asOf after now or ending before versioning began', () => {
    const since = systemInstant(1_000_500_000n); // 1000.5 s
    expect(asOfProblem(1000, 2000, since)).toBeNull();
    expect(asOfProblem(2000, 2000, since)).toBeNull();
    expect(asOfProblem(2001, 2000, since)).toMatch(/after now/);
    expect(asOfProblem(999, 2000, since)).toMatch(/before 1000/);
  });
});
