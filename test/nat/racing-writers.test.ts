import { beforeEach, describe, expect, it } from 'vitest';
import { isExclusionViolation, isWriteConflict } from '../../src/db/errors.js';
import { parseIpSubnet } from '../../src/domain/ip.js';
import { subnetColumns } from '../../src/mappings/filters.js';
import { createCustomer, resetData } from '../helpers.js';
import { database, prisma } from '../setup/app.js';

// Writers racing for one public address, each in its own transaction (on PostgreSQL, each on its
// own connection, all sent at once): the database lets exactly one hold it.

let contextId: number;
let customerId: number;

beforeEach(async () => {
  await resetData();
  contextId = (await prisma.context.findUniqueOrThrow({ where: { name: 'default' } })).id;
  await createCustomer('racer');
  customerId = (await prisma.customer.findFirstOrThrow({ where: { userId: 'racer' } })).id;
});

// Two exclusion-constraint inserts that refuse each other can each wait for the other: PostgreSQL
// rolls one back as a deadlock, and writers run it again, as the app's do (db/transaction.ts).
async function retried<T>(write: () => Promise<T>): Promise<T> {
  for (let run = 1; ; run++) {
    try {
      return await write();
    } catch (error) {
      if (!isWriteConflict(error) || run === 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * run));
    }
  }
}

/** A binding of ports `first`-`last` of 203.0.113.50 from `start` on, in a transaction of its own. */
const insertBinding = (first: number, last: number, start: number) =>
  retried(() =>
    database.transaction((session) =>
      session.query(
        `INSERT INTO nat_port_blocks (context_id, public_address, port_first, port_last, starttime, last_seen, inside_address, inside_context_id, source)
       VALUES ($1, '203.0.113.50', $2, $3, $4, $4, '100.64.1.1', $1, 'API')`,
        [contextId, first, last, start],
      ),
    ),
  );

/** A mapping of `subnet` from `start` on, in a transaction of its own. */
const insertMapping = (subnet: string, start: number) => {
  const columns = subnetColumns(parseIpSubnet(subnet));
  return retried(() =>
    database.transaction((session) =>
      session.query(
        `INSERT INTO ipdr_customers_mapping (context_id, ipdr_customer_id, user_id, ipsubnet, network, ip_first, ip_last, starttime, updated_at)
       VALUES ($1, $2, 'racer', $3, $4::inet, $5, $6, $7, now())`,
        [contextId, customerId, columns.ipsubnet, columns.network, columns.ipFirst, columns.ipLast, start],
      ),
    ),
  );
};

async function outcomes(writes: Promise<unknown>[]) {
  const settled = await Promise.allSettled(writes);
  for (const result of settled) {
    if (result.status === 'rejected' && !isExclusionViolation(result.reason)) throw result.reason;
  }
  return settled.filter((result) => result.status === 'fulfilled').length;
}

describe('racing writers of one public address', () => {
  it('50 overlapping port blocks at once: exactly one is written', async () => {
    const won = await outcomes(Array.from({ length: 50 }, (_, i) => insertBinding(1024 + i, 1279 + i, 1000 + i)));
    expect(won).toBe(1);
    expect(await prisma.natPortBlock.count()).toBe(1);
  });

  // Mappings among themselves are the older constraint's (test/api/concurrent-writers.test.ts):
  // here one whole-address mapping races the blocks, at a different place in the burst each round.
  it.each([0, 12, 25, 49])(
    'a whole-address mapping among 49 port blocks (sent at %i): exactly one holder',
    async (at) => {
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 50; i++) {
        writes.push(
          i === at
            ? insertMapping(at % 2 === 0 ? '203.0.113.50' : '203.0.113.48/29', 1000)
            : insertBinding(2048, 2303, 1000 + i),
        );
      }
      expect(await outcomes(writes)).toBe(1);
      expect((await prisma.natPortBlock.count()) + (await prisma.ipMapping.count())).toBe(1);
    },
  );

  it('blocks of one address that share no port all hold at once', async () => {
    const won = await outcomes(
      Array.from({ length: 20 }, (_, i) => insertBinding(1024 + i * 256, 1279 + i * 256, 1000)),
    );
    expect(won).toBe(20);
  });
});
