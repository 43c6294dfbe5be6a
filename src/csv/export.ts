import type { Db } from '../db/handle.js';
import { formatCsvRows } from '../domain/trisul-csv.js';
import type { Tenant } from '../access/types.js';

const PAGE = 1000;

/** Trisul CSV rows of every customer of a context, page by page (never all in memory). */
export async function* exportRows(db: Db, tenant: Tenant): AsyncGenerator<string[]> {
  for (let after = 0; ;) {
    const customers = await db.prisma.customer.findMany({
      where: { contextId: tenant.id, id: { gt: after } },
      orderBy: { id: 'asc' },
      take: PAGE,
      include: { mappings: { orderBy: [{ starttime: 'asc' }, { id: 'asc' }] } },
    });
    for (const customer of customers) {
      yield* formatCsvRows(
        customer,
        customer.mappings.map((m) => ({
          ipsubnet: m.ipsubnet,
          start: Number(m.starttime),
          end: m.endtime === null ? null : Number(m.endtime),
          terminalId: m.terminalId,
        })),
      );
    }
    if (customers.length < PAGE) return;
    after = customers[customers.length - 1]!.id;
  }
}
