import { describe, expect, it } from 'vitest';
import { EVERY_FIELD, lookupColumns, whoHadSql } from '../../src/lookups/store.js';

// The columns asked for, before the statement's own (whether a mapping was found, the NAT hop).
const selected = (sql: string) => /SELECT (.*), \(d\.id IS NOT NULL/.exec(sql)![1]!.split(/, (?![^(]*\))/);

describe('the lookup statement', () => {
  it("reads a customer's id and UserID from the mapping, without probing the customer", () => {
    const sql = whoHadSql(lookupColumns({ mapping: new Set(['id']), customer: new Set(['userId']) }));
    expect(selected(sql)).toEqual([
      'q.ord::int AS "lookupIndex"',
      'coalesce(d.id, i.id) AS "id"',
      'coalesce(d.ipdr_customer_id, i.ipdr_customer_id) AS "customerId"',
      'coalesce(d.user_id, i.user_id) AS "userId"',
    ]);
    expect(sql).not.toContain('ipdr_customers c');
  });

  it('joins the customer for its other columns', () => {
    const sql = whoHadSql(lookupColumns({ mapping: new Set(['id']), customer: new Set(['userId', 'name']) }));
    expect(selected(sql)).toEqual([
      'q.ord::int AS "lookupIndex"',
      'coalesce(d.id, i.id) AS "id"',
      'coalesce(d.ipdr_customer_id, i.ipdr_customer_id) AS "customerId"',
      'coalesce(d.user_id, i.user_id) AS "userId"',
      'c.name AS "c_name"',
    ]);
    expect(sql).toContain('JOIN ipdr_customers c');
  });

  it('leaves the customers out when none is asked for', () => {
    const sql = whoHadSql(lookupColumns({ mapping: new Set(['starttime', 'endtime']), customer: null }));
    expect(selected(sql)).toEqual([
      'q.ord::int AS "lookupIndex"',
      'coalesce(d.starttime, i.starttime) AS "starttime"',
      'coalesce(d.endtime, i.endtime) AS "endtime"',
    ]);
    expect(sql).not.toContain('ipdr_customers c');
  });

  it('gives equal statements for equal sets, whatever their order', () => {
    const one = lookupColumns({ mapping: new Set(['endtime', 'id']), customer: new Set(['name', 'email']) });
    const other = lookupColumns({ mapping: new Set(['id', 'endtime']), customer: new Set(['email', 'name']) });
    expect(whoHadSql(one)).toBe(whoHadSql(other));
  });

  it('reads every column once for every field, the context ids being its parameter', () => {
    expect(selected(whoHadSql(lookupColumns(EVERY_FIELD)))).toHaveLength(1 + 16 + 9);
  });
});
