import {
  type GraphQLNamedType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isSpecifiedScalarType,
  isUnionType,
} from 'graphql';
import { expect, it } from 'vitest';
import { schema } from '../src/schema/index.js';

// Clients read the schema through GraphiQL and codegen: every name they meet says what it is.

const ownTypes = Object.values(schema.getTypeMap()).filter(
  (type) => !type.name.startsWith('__') && !isSpecifiedScalarType(type),
);

function undescribed(type: GraphQLNamedType): string[] {
  const missing: string[] = [];
  const lacks = (description: string | null | undefined) => !description?.trim();
  if (lacks(type.description)) missing.push(type.name);
  if (isObjectType(type) || isInterfaceType(type)) {
    for (const field of Object.values(type.getFields())) {
      if (lacks(field.description)) missing.push(`${type.name}.${field.name}`);
      for (const arg of field.args) {
        if (lacks(arg.description)) missing.push(`${type.name}.${field.name}(${arg.name})`);
      }
    }
  } else if (isInputObjectType(type)) {
    for (const field of Object.values(type.getFields())) {
      if (lacks(field.description)) missing.push(`${type.name}.${field.name}`);
    }
  } else if (isEnumType(type)) {
    for (const value of type.getValues()) {
      if (lacks(value.description)) missing.push(`${type.name}.${value.name}`);
    }
  }
  return missing;
}

it('every type, field, argument, input field and enum value has a description', () => {
  const missing = ownTypes.flatMap(undescribed);
  expect(missing, `without a description:\n${missing.join('\n')}`).toEqual([]);
});

it('no type keeps a name generated from its field (Query…Connection, Mutation…Result)', () => {
  const generated = ownTypes
    .map((type) => type.name)
    .filter((name) => /^(Query|Mutation)[A-Z].*(Connection|Edge|Result|Success)$/.test(name));
  expect(generated, `generated names:\n${generated.join('\n')}`).toEqual([]);
});

it('connections and mutation results have the names clients write in fragments', () => {
  const names = new Set(ownTypes.map((type) => type.name));
  for (const name of [
    'CustomerConnection',
    'CustomerEdge',
    'MappingConnection',
    'MappingEdge',
    'AuditEventConnection',
    'AuditEventEdge',
    'LookupLogConnection',
    'LookupLogEdge',
    'CreateMappingResult',
    'CreateCustomerResult',
  ]) {
    expect(names.has(name), name).toBe(true);
  }
  const query = schema.getQueryType()!.getFields();
  expect(String(query.mappings!.type)).toBe('MappingConnection!');
  expect(String(query.ipHistory!.type)).toBe('MappingConnection!');
  const mutation = schema.getMutationType()!.getFields();
  for (const [fieldName, field] of Object.entries(mutation)) {
    if (!isUnionType(getNamedType(field.type))) continue;
    const expected = `${fieldName[0]!.toUpperCase()}${fieldName.slice(1)}Result!`;
    expect(String(field.type), `Mutation.${fieldName}`).toBe(expected);
  }
});
