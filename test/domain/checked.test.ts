import { describe, expect, it } from 'vitest';
import { checkTokenFormat } from '../../src/access/tokens.js';
import type { BootstrapSettings } from '../../src/access/store.js';
import { type CustomerFields, requiredText } from '../../src/domain/customer.js';
import { InvalidValueError } from '../../src/domain/invalid-value.js';
import { checkContextName, checkUsername } from '../../src/domain/names.js';
import { type Period, checkTimeRange } from '../../src/domain/time.js';
import type { MappingFields } from '../../src/mappings/store.js';
import { parseIpSubnet } from '../../src/domain/ip.js';

// The stores take only checked values: a raw string or period where a checked one is due does
// not compile (`npm test` runs tsc over the tests first, so each @ts-expect-error below is checked:
// one that stopped being an error would fail the build). What the checks return is the value itself.

describe('checked values', () => {
  it('are the values as sent, once a rule accepted them', () => {
    expect(checkContextName('isp-7')).toBe('isp-7');
    expect(checkUsername('noc@isp')).toBe('noc@isp');
    expect(checkTokenFormat('abcdefghij0123456789KLMN')).toBe('abcdefghij0123456789KLMN');
    expect(requiredText(' TERM2025')).toBe(' TERM2025');
    expect(checkTimeRange({ start: 1, end: 1 })).toEqual({ start: 1, end: 1 });
    expect(() => checkTimeRange({ start: 2, end: 1 })).toThrow(InvalidValueError);
  });

  it('cannot be replaced by unchecked ones where a store takes them', () => {
    const settings: BootstrapSettings = {
      // @ts-expect-error a context name must come from checkContextName
      contexts: ['default'],
      // @ts-expect-error a username must come from checkUsername
      adminUser: 'admin',
    };
    const customer: Pick<CustomerFields, 'userId'> = {
      // @ts-expect-error customer text must come from requiredText or optionalText
      userId: 'U1',
    };
    // @ts-expect-error a period must come from checkTimeRange
    const period: Period = { start: 2, end: 1 };
    const mapping: MappingFields = { subnet: parseIpSubnet('10.0.0.1'), period, terminalId: null };
    expect([settings, customer, mapping]).toHaveLength(3);
  });
});
