import { describe, expect, it } from 'vitest';
import { database, prisma } from '../setup/app.js';
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

describe('transactions below Prisma', () => {
  const contextCount = () => prisma.context.count({ where: { name: { startsWith: 'tx-' } } });
  const insertContext = 'INSERT INTO contexts (name) VALUES ($1) RETURNING id::int8 AS id';

  it('commit when their work resolves, and read their own writes before that', async () => {
    const before = await contextCount();
    const inside = await database.transaction(async (tx) => {
      const [inserted] = await tx.query<{ id: bigint }>(insertContext, ['tx-committed']);
      expect(typeof inserted!.id).toBe('bigint');
      return tx.query<{ name: string }>('SELECT name FROM contexts WHERE name = $1', ['tx-committed']);
    });
    expect(inside).toEqual([{ name: 'tx-committed' }]);
    expect(await contextCount()).toBe(before + 1);
  });

  it('roll back everything when their work throws, with the error the work threw', async () => {
    const before = await contextCount();
    const failure = database.transaction(async (tx) => {
      await tx.query(insertContext, ['tx-rolled-back']);
      await tx.query(insertContext, ['tx-rolled-back']);
    });
    await expect(failure).rejects.toMatchObject({ code: '23505' });
    expect(await contextCount()).toBe(before);
    // The connection is usable again (PostgreSQL: returned to the pool after its rollback).
    expect(await database.transaction((tx) => tx.query('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
  });
});

describe('a run of statements', () => {
  // On PostgreSQL the driver waits on a socket, which lets the loop turn; PGlite runs in this
  // thread, and without a turn between its statements no timer or socket would be served until
  // the whole run ended (a server's request deadlines then fired on callers that had sent in time).
  it('lets timers fire and sockets be read while it runs, through Prisma and below it', async () => {
    let fired = 0;
    const timer = setInterval(() => fired++, 1);
    try {
      for (let i = 0; i < 150; i++) await prisma.$queryRawUnsafe('SELECT 1');
      const throughPrisma = fired;
      await database.transaction(async (tx) => {
        for (let i = 0; i < 150; i++) await tx.query('SELECT 1');
      });
      expect(throughPrisma).toBeGreaterThan(0);
      expect(fired).toBeGreaterThan(throughPrisma);
    } finally {
      clearInterval(timer);
    }
  });
});
