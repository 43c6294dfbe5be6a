import { describe, expect, it } from 'vitest';
import { InvalidValueError } from '../../src/domain/invalid-value.js';
import { holdingsConflict } from '../../src/domain/mapping.js';
import { parseIpSubnet } from '../../src/domain/ip.js';
import {
  MAX_UNIX_TIME,
  checkTimeRange,
  parseEndTime,
  parseUnixTime,
  rangeContains,
  rangesOverlap,
} from '../../src/domain/time.js';

describe('parseUnixTime', () => {
  it.each([
    [0, 0],
    ['0', 0],
    ['1723431899', 1723431899],
    [1723431899, 1723431899],
    [4102444800, 4102444800], // 2100: beyond 32-bit time
    [String(MAX_UNIX_TIME), MAX_UNIX_TIME],
  ])('accepts %j', (input, seconds) => {
    expect(parseUnixTime(input)).toBe(seconds);
  });

  it.each([
    [-1, /out of range/],
    [MAX_UNIX_TIME + 1, /out of range/],
    ['253402300800', /out of range/],
    ['99999999999999999999', /out of range/],
    [1.5, /whole number/],
    ['1.5', /digits only/],
    ['-5', /digits only/],
    ['0123', /digits only/],
    [' 12', /digits only/],
    ['', /digits only/],
    [null, /number or a string/],
    [true, /number or a string/],
  ])('rejects %j', (input, reason) => {
    expect(() => parseUnixTime(input)).toThrow(InvalidValueError);
    expect(() => parseUnixTime(input)).toThrow(reason);
  });

  it('reads an absent, null or empty end as ongoing', () => {
    expect(parseEndTime(undefined)).toBeNull();
    expect(parseEndTime(null)).toBeNull();
    expect(parseEndTime('')).toBeNull();
    expect(parseEndTime('1723444899')).toBe(1723444899);
  });
});

describe('time ranges', () => {
  it('rejects an end before the start, accepts an end equal to it', () => {
    expect(() => checkTimeRange({ start: 10, end: 9 })).toThrow(/endtime 9 is before starttime 10/);
    expect(checkTimeRange({ start: 10, end: 10 })).toEqual({ start: 10, end: 10 });
    expect(checkTimeRange({ start: 10, end: null })).toEqual({ start: 10, end: null });
  });

  it('treats both ends as inclusive and an open end as forever', () => {
    expect(rangesOverlap({ start: 0, end: 10 }, { start: 11, end: 20 })).toBe(false);
    expect(rangesOverlap({ start: 0, end: 10 }, { start: 10, end: 20 })).toBe(true);
    expect(rangesOverlap({ start: 0, end: null }, { start: 1_000_000, end: 1_000_001 })).toBe(true);
    expect(rangesOverlap({ start: 5, end: null }, { start: 0, end: 4 })).toBe(false);
    expect(rangesOverlap({ start: 5, end: null }, { start: 0, end: null })).toBe(true);
    expect(rangeContains({ start: 5, end: 10 }, 10)).toBe(true);
    expect(rangeContains({ start: 5, end: 10 }, 11)).toBe(false);
    expect(rangeContains({ start: 5, end: null }, MAX_UNIX_TIME)).toBe(true);
  });

  it('conflicts only when both address space and time overlap', () => {
    const holding = (subnet: string, start: number, end: number | null) => ({
      subnet: parseIpSubnet(subnet),
      period: { start, end },
    });
    expect(holdingsConflict(holding('10.0.0.0/8', 0, 10), holding('10.1.0.0/16', 10, 20))).toBe(true);
    expect(holdingsConflict(holding('10.0.0.0/8', 0, 10), holding('10.1.0.0/16', 11, 20))).toBe(false);
    expect(holdingsConflict(holding('10.0.0.0/8', 0, null), holding('11.0.0.0/8', 0, null))).toBe(false);
  });
});
