import type { GraphQLField } from 'graphql';
import type { RequestContext } from '../context.js';

// Which columns of its object's row each field of a Prisma object type reads, declared where the
// field is: the lookups select exactly the columns of the fields a query asks for
// (lookups/fields.ts), so a field reading a column it does not declare would read nothing there.
// A field exposing a model field (t.exposeString('name'), ...) reads that column and declares
// nothing more; any other field declares its columns with `columnsOf`, or `readsColumns` when
// Pothos resolves it (a relation).

/** The extensions key under which a field declares the columns it reads. */
export const COLUMNS_READ = 'columnsRead';

/** Field extensions declaring that the field reads these columns of its object's row. */
export const readsColumns = <Model>(columns: readonly (keyof Model & string)[]) => ({ [COLUMNS_READ]: columns });

/**
 * A field's resolver and its declaration of the columns it reads, for the fields of Model's
 * type: `...columnsOf<IpMapping>()(['ipsubnet'], (mapping) => ...)`. The resolver is typed
 * against those columns alone, so it cannot read one it does not declare.
 */
export const columnsOf =
  <Model>() =>
  <const Column extends keyof Model & string, Result>(
    columns: readonly Column[],
    resolve: (row: Pick<Model, Column>, args: unknown, ctx: RequestContext) => Result,
  ) => ({ extensions: readsColumns<Model>(columns), resolve });

/** The columns a field reads, or undefined when it declares none (and does not expose a column). */
export function columnsReadBy(field: GraphQLField<unknown, unknown>): readonly string[] | undefined {
  const declared = field.extensions[COLUMNS_READ] as readonly string[] | undefined;
  if (declared) return declared;
  // Pothos records the model field an expose* field resolves to (its default resolver reads it).
  const exposed = field.extensions.pothosExposedField;
  return typeof exposed === 'string' ? [exposed] : undefined;
}
