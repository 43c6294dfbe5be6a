import { describe, expect, it } from 'vitest';
import { database, prisma } from '../../src/db.js';
import { postgresSettings } from '../../src/db/connection.js';

describe('PostgreSQL connection settings', () => {
  it('turn JIT off and keep the options the URL gives', () => {
    expect(postgresSettings('postgres://u@db:5432/ipdr')).toEqual({
      connectionString: 'postgres://u@db:5432/ipdr',
      options: '-c jit=off',
    });
    expect(postgresSettings('postgres://u@db/ipdr?sslmode=require&options=-c%20statement_timeout%3D5s')).toEqual({
      connectionString: 'postgres://u@db/ipdr?sslmode=require',
      options: '-c statement_timeout=5s -c jit=off',
    });
  });

  it('reach PostgreSQL sessions (PGlite, built without JIT, keeps its default)', async () => {
    const [setting] = await prisma.$queryRawUnsafe<{ jit: string }[]>('SHOW jit');
    expect(setting?.jit).toBe(database.kind === 'postgresql' ? 'off' : 'on');
  });
});

describe('reads below Prisma', () => {
  it('give the values Prisma gives for the same statement: int8 as bigint, int4 as number, timestamps as dates', async () => {
    const sql = `SELECT $1::int8 AS big, $2::int4 AS small, $3::inet::text AS network, '2026-11-23T10:00:00.123Z'::timestamptz AS at, NULL::int8 AS missing`;
    const params = ['253402300799', 7, '10.0.0.0/8'];
    const [read] = await database.read<Record<string, unknown>>(sql, params);
    expect(read).toEqual({
      big: 253402300799n,
      small: 7,
      network: '10.0.0.0/8',
      at: new Date('2026-11-23T10:00:00.123Z'),
      missing: null,
    });
    expect(read).toEqual((await prisma.$queryRawUnsafe<Record<string, unknown>[]>(sql, ...params))[0]);
  });
});
