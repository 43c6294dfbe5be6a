import type { PrismaClient } from '../generated/prisma/client.js';

/** The client handed to `prisma.$transaction(async (tx) => ...)`. */
export type Transaction = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;
