import {
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLResolveInfo,
  Kind,
  type SelectionSetNode,
  getNamedType,
  isObjectType,
} from 'graphql';
import type { Customer, IpMapping } from '../generated/prisma/client.js';
import { columnsReadBy } from '../schema/columns.js';
import {
  EVERY_FIELD,
  type FieldsRead,
  type LookupCustomer,
  type LookupRow,
  isCustomerField,
  isMappingField,
} from './store.js';

// What a whoHad or whoHadMany field's GraphQL selection reads, so that the lookup statement
// selects those columns and no others (see lookups/store.ts). Each field of IpMapping and Customer
// declares the columns it reads where it is declared (schema/columns.ts); a field declaring none
// makes the lookup read every column: still right, only slower (test/store/lookup-columns.test.ts
// keeps every field declared).

/** The fields selected in these selection sets, through fragments (@skip/@include ignored: reading more is safe). */
function selectedFields(
  sets: readonly (SelectionSetNode | undefined)[],
  fragments: Record<string, FragmentDefinitionNode>,
  into = new Map<string, FieldNode[]>(),
): Map<string, FieldNode[]> {
  for (const set of sets) {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        into.set(selection.name.value, [...(into.get(selection.name.value) ?? []), selection]);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        selectedFields([selection.selectionSet], fragments, into);
      } else {
        selectedFields([fragments[selection.name.value]?.selectionSet], fragments, into);
      }
    }
  }
  return into;
}

/** The fields of the mappings (and customers) a whoHad or whoHadMany field's selection reads. */
export function fieldsRead(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments' | 'returnType'>): FieldsRead {
  const mappingType = getNamedType(info.returnType);
  if (!isObjectType(mappingType)) return EVERY_FIELD;
  const mappingFields = mappingType.getFields();
  const mapping = new Set<keyof IpMapping>();
  let customer: Set<keyof Customer> | null = null;
  for (const [name, nodes] of selectedFields(
    info.fieldNodes.map((node) => node.selectionSet),
    info.fragments,
  )) {
    // __typename: graphql-js answers it from the type alone.
    if (name.startsWith('__')) continue;
    const field = mappingFields[name];
    if (!field || !addColumns(field, isMappingField, mapping)) return EVERY_FIELD;
    // The customer's columns come with the mapping, joined by the same statement.
    const customerType = getNamedType(field.type);
    if (!isObjectType(customerType) || customerType.name !== 'Customer') continue;
    customer ??= new Set();
    const customerFields = customerType.getFields();
    for (const customerField of selectedFields(
      nodes.map((node) => node.selectionSet),
      info.fragments,
    ).keys()) {
      if (customerField.startsWith('__')) continue;
      const declared = customerFields[customerField];
      if (!declared || !addColumns(declared, isCustomerField, customer)) return EVERY_FIELD;
    }
  }
  return { mapping, customer };
}

/** Adds the columns `field` declares to `into`; false when it declares none (or names no column of the model). */
function addColumns<Column extends string>(
  field: GraphQLField<unknown, unknown>,
  isColumn: (name: string) => name is Column,
  into: Set<Column>,
): boolean {
  const columns = columnsReadBy(field);
  if (!columns?.every(isColumn)) return false;
  for (const column of columns) into.add(column);
  return true;
}

// The one place a lookup's partial rows pass for the IpMapping and Customer rows that the GraphQL
// types' resolvers are typed against. It holds because the lookup selects every column that the
// fields asked for declare (above), and each resolver is typed against the columns it declares
// (schema/columns.ts).

/** A lookup's answer as the parent of IpMapping's fields. */
export const asMappingParent = (row: LookupRow | null) => row as IpMapping | null;

/** A batch of lookups' answers as parents of IpMapping's fields. */
export const asMappingParents = (rows: (LookupRow | null)[]) => rows as (IpMapping | null)[];

/** The customer a lookup brought along with its mapping, as the parent of Customer's fields; undefined for a mapping read otherwise. */
export const customerCarriedBy = (mapping: Pick<IpMapping, 'customerId'> & { customer?: LookupCustomer }) =>
  mapping.customer as Customer | undefined;
