import { beforeAll, describe, expect, it } from 'vitest';
import { DeadlineExceededError, withDeadline } from '../../src/db/connection.js';
import { db, readRows } from '../setup/app.js';
import { EVERY_FIELD, whoHadShared } from '../../src/lookups/store.js';
import { createCustomer, createMapping, resetData } from '../helpers.js';

// Single lookups of concurrent requests share one statement; the request that happens to start
// it may already be past its deadline, and must not fail the others' lookups with it.

const DEFAULT_CONTEXT_ID = 1;
const past = { at: Date.now() - 1_000, ms: 1 };

beforeAll(async () => {
  await resetData();
  await createCustomer('U1');
  await createMapping({ userId: 'U1', ipsubnet: '10.9.0.0/16', starttime: 0 });
});

describe('a shared lookup batch', () => {
  it('answers every request in it when the one that started it is past its deadline', async () => {
    const late = withDeadline(past, () => whoHadShared(db, DEFAULT_CONTEXT_ID, { ip: '10.9.0.1', at: 5 }, EVERY_FIELD));
    const onTime = withDeadline({ at: Date.now() + 60_000, ms: 60_000 }, () =>
      whoHadShared(db, DEFAULT_CONTEXT_ID, { ip: '10.9.0.2', at: 5 }, EVERY_FIELD),
    );
    const [lateAnswer, onTimeAnswer] = await Promise.all([late, onTime]);
    expect(onTimeAnswer).toMatchObject({ customer: { userId: 'U1' } });
    expect(lateAnswer).toMatchObject({ customer: { userId: 'U1' } });
  });

  it('still keeps a late request from sending statements of its own', async () => {
    await expect(withDeadline(past, () => readRows('SELECT 1', []))).rejects.toBeInstanceOf(DeadlineExceededError);
  });
});
