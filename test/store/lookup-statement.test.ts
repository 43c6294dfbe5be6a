import { describe, expect, it } from 'vitest';
import { EVERY_FIELD, lookupColumns, whoHadSql } from '../../src/store/lookups.js';

const selected = (sql: string) => /SELECT (.*)\n/.exec(sql)![1]!.split(', ');

describe('the lookup statement', () => {
  it('reads the columns of the fields asked for, and a customer id with a customer', () => {
    const sql = whoHadSql(lookupColumns({ mapping: new Set(['id']), customer: new Set(['userId']) }));
    expect(selected(sql)).toEqual([
      'q.ord::int AS "lookupIndex"',
      'm.id AS "id"',
      'm.ipdr_customer_id AS "customerId"',
      'c.user_id AS "c_userId"',
    ]);
    expect(sql).toContain('JOIN ipdr_customers c');
  });

  it('leaves the customers out when none is asked for', () => {
    const sql = whoHadSql(lookupColumns({ mapping: new Set(['starttime', 'endtime']), customer: null }));
    expect(selected(sql)).toEqual([
      'q.ord::int AS "lookupIndex"',
      'm.starttime AS "starttime"',
      'm.endtime AS "endtime"',
    ]);
    expect(sql).not.toContain('ipdr_customers c');
  });

  it('gives equal statements for equal sets, whatever their order', () => {
    const one = lookupColumns({ mapping: new Set(['endtime', 'id']), customer: new Set(['name', 'email']) });
    const other = lookupColumns({ mapping: new Set(['id', 'endtime']), customer: new Set(['email', 'name']) });
    expect(whoHadSql(one)).toBe(whoHadSql(other));
  });

  it('reads every column once for every field, the context ids being its parameter', () => {
    expect(selected(whoHadSql(lookupColumns(EVERY_FIELD)))).toHaveLength(1 + 11 + 8);
  });
});
