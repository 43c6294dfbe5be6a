import { prisma } from './db.js';

/** A Trisul context: the partition a request reads and writes. */
export interface Tenant {
  id: number;
  name: string;
}

// Context names never change their id, so a found context can be remembered for the process.
const known = new Map<string, Tenant>();

export async function findTenant(name: string): Promise<Tenant> {
  const cached = known.get(name);
  if (cached) return cached;
  const row = await prisma.context.findUniqueOrThrow({ where: { name }, select: { id: true, name: true } });
  known.set(name, row);
  return row;
}
