import {
  type FragmentDefinitionNode,
  GraphQLInt,
  GraphQLObjectType,
  GraphQLString,
  Kind,
  type OperationDefinitionNode,
  assertObjectType,
  parse,
  validate,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { fieldsRead } from '../../src/lookups/fields.js';
import { EVERY_FIELD, isCustomerField, isMappingField, lookupColumns } from '../../src/lookups/store.js';
import { columnsReadBy } from '../../src/schema/columns.js';
import { schema } from '../../src/schema/index.js';

// The lookups read the columns each field of IpMapping and Customer declares where it is declared
// (src/schema/columns.ts); these tests keep every field declared and the columns read unchanged.

const QUERY = schema.getQueryType()!;

/** What the first root field of `document` (a whoHad or whoHadMany) reads, as its resolver sees it. */
function columnsFor(document: string) {
  const parsed = parse(document);
  expect(validate(schema, parsed)).toEqual([]);
  const operation = parsed.definitions.find(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  )!;
  const root = operation.selectionSet.selections[0]!;
  if (root.kind !== Kind.FIELD) throw new Error('the first selection must be a field');
  const fragments = Object.fromEntries(
    parsed.definitions
      .filter((definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION)
      .map((fragment) => [fragment.name.value, fragment]),
  );
  const returnType = QUERY.getFields()[root.name.value]!.type;
  return lookupColumns(fieldsRead({ fieldNodes: [root], fragments, returnType }));
}

describe('the columns a field of IpMapping or Customer reads', () => {
  it.each([
    ['IpMapping', isMappingField],
    ['Customer', isCustomerField],
  ])('are declared by every field of %s, and name its columns', (typeName, isColumn) => {
    const fields = Object.values(assertObjectType(schema.getType(typeName)).getFields());
    const undeclared = fields.filter((field) => !columnsReadBy(field)?.every(isColumn)).map((field) => field.name);
    expect(undeclared).toEqual([]);
  });

  it("are read for every field asked for, the derived ones through ipsubnet, the customer's through the join", () => {
    const customer = 'id userId name address email phoneNumber altPhoneNumber createdAt updatedAt mappings { id }';
    expect(
      columnsFor(`{ whoHad(ip: "10.0.0.1") { id ipsubnet network family prefixLength firstAddress lastAddress
        starttime endtime terminalId createdAt updatedAt customer { ${customer} } } }`),
    ).toEqual({
      mapping: [
        'id',
        'customerId',
        'userId',
        'ipsubnet',
        'starttime',
        'endtime',
        'terminalId',
        'createdAt',
        'updatedAt',
      ],
      customer: ['name', 'address', 'email', 'phoneNumber', 'altPhoneNumber', 'createdAt', 'updatedAt'],
    });
  });

  it('are only those of the fields asked for, through aliases and fragments', () => {
    expect(columnsFor('{ whoHad(ip: "10.0.0.1") { network family } }')).toEqual({
      mapping: ['ipsubnet'],
      customer: null,
    });
    expect(columnsFor('{ whoHad(ip: "10.0.0.1") { __typename } }')).toEqual({ mapping: [], customer: null });
    expect(
      columnsFor(`query($lookups: [WhoHadLookup!]!) {
        whoHadMany(lookups: $lookups) { ... on IpMapping { start: starttime } owner: customer { ...Name } } }
        fragment Name on Customer { __typename name }`),
    ).toEqual({ mapping: ['customerId', 'starttime'], customer: ['name'] });
  });

  it("need no customer row for the customer's id, UserID or mappings", () => {
    expect(columnsFor('{ whoHad(ip: "10.0.0.1") { customer { id userId mappings { id } } } }')).toEqual({
      mapping: ['customerId', 'userId'],
      customer: [],
    });
  });

  it('are every column when a field asked for declares none', () => {
    const Customer = new GraphQLObjectType({
      name: 'Customer',
      fields: {
        name: { type: GraphQLString, extensions: { pothosExposedField: 'name' } },
        undeclared: { type: GraphQLString },
      },
    });
    const IpMapping = new GraphQLObjectType({
      name: 'IpMapping',
      fields: {
        id: { type: GraphQLInt, extensions: { pothosExposedField: 'id' } },
        undeclared: { type: GraphQLString },
        customer: { type: Customer, extensions: { columnsRead: ['customerId'] } },
      },
    });
    const read = (selection: string) => {
      const root = (parse(`{ whoHad ${selection} }`).definitions[0] as OperationDefinitionNode).selectionSet
        .selections[0]!;
      if (root.kind !== Kind.FIELD) throw new Error('a field');
      return fieldsRead({ fieldNodes: [root], fragments: {}, returnType: IpMapping });
    };
    expect(read('{ id customer { name } }')).toEqual({
      mapping: new Set(['id', 'customerId']),
      customer: new Set(['name']),
    });
    expect(read('{ id undeclared }')).toBe(EVERY_FIELD);
    expect(read('{ customer { undeclared } }')).toBe(EVERY_FIELD);
  });
});
