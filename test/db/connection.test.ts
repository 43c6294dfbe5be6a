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
