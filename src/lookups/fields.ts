import {
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLResolveInfo,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import type { Customer, IpMapping } from '../generated/prisma/client.js';
import { EVERY_FIELD, type FieldsRead } from './store.js';

// What a whoHad or whoHadMany field's GraphQL selection reads, so that the lookup statement
// selects those columns and no others (see lookups/store.ts).

// The columns each field of IpMapping and Customer reads (IpMapping's derived fields parse
// ipsubnet; a customer's id and its mappings need only its id, which comes with every customer).
// A field missing here makes the lookup read every column: still right, only slower.
const MAPPING_FIELD_COLUMNS: Record<string, (keyof IpMapping)[]> = {
  __typename: [],
  id: ['id'],
  ipsubnet: ['ipsubnet'],
  network: ['ipsubnet'],
  family: ['ipsubnet'],
  prefixLength: ['ipsubnet'],
  firstAddress: ['ipsubnet'],
  lastAddress: ['ipsubnet'],
  starttime: ['starttime'],
  endtime: ['endtime'],
  terminalId: ['terminalId'],
  createdAt: ['createdAt'],
  updatedAt: ['updatedAt'],
};
const CUSTOMER_FIELD_COLUMNS: Record<string, (keyof Customer)[]> = {
  __typename: [],
  id: [],
  mappings: [],
  userId: ['userId'],
  name: ['name'],
  address: ['address'],
  email: ['email'],
  phoneNumber: ['phoneNumber'],
  altPhoneNumber: ['altPhoneNumber'],
  createdAt: ['createdAt'],
  updatedAt: ['updatedAt'],
};

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
export function fieldsRead(info: GraphQLResolveInfo): FieldsRead {
  const mapping = new Set<keyof IpMapping>();
  let customer: Set<keyof Customer> | null = null;
  for (const [name, nodes] of selectedFields(
    info.fieldNodes.map((node) => node.selectionSet),
    info.fragments,
  )) {
    if (name === 'customer') {
      customer ??= new Set();
      for (const customerField of selectedFields(
        nodes.map((node) => node.selectionSet),
        info.fragments,
      ).keys()) {
        const needed = CUSTOMER_FIELD_COLUMNS[customerField];
        if (!needed) return EVERY_FIELD;
        for (const column of needed) customer.add(column);
      }
      continue;
    }
    const needed = MAPPING_FIELD_COLUMNS[name];
    if (!needed) return EVERY_FIELD;
    for (const column of needed) mapping.add(column);
  }
  return { mapping, customer };
}
