import type { Actor } from '../access/types.js';
import type { Db } from '../db/handle.js';
import { customers } from '../db/columns.js';
import { isUniqueViolation } from '../db/errors.js';
import type { CustomerFields } from '../domain/customer.js';
import { AlreadyExistsError, CustomerHasMappingsError, NotFoundError, ValidationError } from '../errors.js';
import { likeLiteral } from '../domain/text.js';
import type { Customer, Prisma } from '../generated/prisma/client.js';
import type { Tenant } from '../access/types.js';
import { recordAudit, recordAudits } from '../audit/store.js';
import { type Transaction, inTransaction } from '../db/transaction.js';
import { sourceOf } from '../mappings/filters.js';

/** Customers whose name contains `text`, in any case: the text itself, its `%` and `_` included. */
export function nameContainsWhere(text: string): Prisma.StringFilter<'Customer'> {
  return { contains: likeLiteral(text), mode: 'insensitive' };
}

export async function findCustomerOrThrow(tx: Transaction, tenant: Tenant, userId: string): Promise<Customer> {
  const customer = await tx.customer.findUnique({ where: { contextId_userId: { contextId: tenant.id, userId } } });
  if (!customer) throw new NotFoundError('customer', userId);
  return customer;
}

/**
 * The customer as it is now, locked until the transaction ends. Under READ COMMITTED a plain read
 * may be overtaken by a writer committing before this one writes: the trail would record a stale
 * `before`, and a cascade would miss (and delete unrecorded) a mapping added in between. The lock
 * also holds off new mappings of the customer, whose foreign key check shares it.
 */
async function lockCustomerOrThrow(tx: Transaction, tenant: Tenant, userId: string): Promise<Customer> {
  const c = customers.columns;
  await tx.$queryRawUnsafe(
    `SELECT ${c.id} FROM ${customers.table} WHERE ${c.contextId} = $1 AND ${c.userId} = $2 FOR UPDATE`,
    tenant.id,
    userId,
  );
  // Read after the lock: this statement sees what the writer it waited for committed.
  return findCustomerOrThrow(tx, tenant, userId);
}

async function translateDuplicateUserId<T>(userId: string | undefined, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (userId !== undefined && isUniqueViolation(error)) throw new AlreadyExistsError('customer', 'userId', userId);
    throw error;
  }
}

// Customer writes run like mapping writes (see inTransaction): again from the start when they lose
// a race, BusyError when they cannot start or keep losing.

export function createCustomer(db: Db, tenant: Tenant, actor: Actor, fields: CustomerFields): Promise<Customer> {
  return translateDuplicateUserId(fields.userId, () =>
    inTransaction(db, async (tx) => {
      const customer = await tx.customer.create({
        data: { ...fields, contextId: tenant.id, source: sourceOf(actor.channel) },
      });
      await recordAudit(tx, tenant, actor, {
        action: 'create',
        entityType: 'customer',
        entityId: customer.id,
        before: null,
        after: customer,
      });
      return customer;
    }),
  );
}

/**
 * Writes `fields` over the customer named `userId`: all of them for a replace, some for a patch.
 * A caller writing back what it read also sends the customer's id (`expectedId`): if another
 * customer holds the UserID now, nothing is written.
 */
export function updateCustomer(
  db: Db,
  tenant: Tenant,
  actor: Actor,
  userId: string,
  fields: Partial<CustomerFields>,
  expectedId?: number | null,
): Promise<Customer> {
  return translateDuplicateUserId(fields.userId, () =>
    inTransaction(db, async (tx) => {
      const before = await lockCustomerOrThrow(tx, tenant, userId);
      if (expectedId != null && expectedId !== before.id) {
        throw new ValidationError('id', `${expectedId} is not the id of customer ${userId} (${before.id})`);
      }
      const after = await tx.customer.update({ where: { id: before.id }, data: fields });
      await recordAudit(tx, tenant, actor, {
        action: 'update',
        entityType: 'customer',
        entityId: after.id,
        before,
        after,
      });
      return after;
    }),
  );
}

/** Deletes a customer; its mappings go too only with `cascade`, each recorded in the trail. */
export function deleteCustomer(
  db: Db,
  tenant: Tenant,
  actor: Actor,
  userId: string,
  cascade: boolean,
): Promise<Customer> {
  return inTransaction(db, async (tx) => {
    const customer = await lockCustomerOrThrow(tx, tenant, userId);
    // Refusing needs only how many mappings there are; only a cascade, which records each one it
    // deletes, loads them.
    if (!cascade) {
      const mappingCount = await tx.ipMapping.count({ where: { customerId: customer.id } });
      if (mappingCount > 0) throw new CustomerHasMappingsError(userId, mappingCount);
    }
    const mappings = cascade
      ? await tx.ipMapping.findMany({ where: { customerId: customer.id }, orderBy: { id: 'asc' } })
      : [];
    await tx.ipMapping.deleteMany({ where: { customerId: customer.id } });
    await recordAudits(
      tx,
      tenant,
      actor,
      mappings.map((mapping) => ({
        action: 'delete',
        entityType: 'mapping',
        entityId: mapping.id,
        before: mapping,
        after: null,
      })),
    );
    await tx.customer.delete({ where: { id: customer.id } });
    await recordAudit(tx, tenant, actor, {
      action: 'delete',
      entityType: 'customer',
      entityId: customer.id,
      before: customer,
      after: null,
    });
    return customer;
  });
}
