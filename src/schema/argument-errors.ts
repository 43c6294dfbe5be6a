import {
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
} from 'graphql';
import { wrapOrThrow } from '@pothos/plugin-errors';
import { storableTextFault } from '../domain/text.js';
import { ValidationError } from '../errors.js';
import { badUserInput } from './input.js';

// Refusals of a field's text arguments, in one place for every field. Text arguments reach the
// database as they are (a UserID looked up, a name filtered by, an entity type): one the database
// cannot hold made the statement fail, answered as "Unexpected error." with Prisma's error in the
// log. Each is checked before the resolver runs. A field whose result lists ValidationError
// answers it; any other fails with BAD_USER_INPUT naming the argument. (An expected failure a
// resolver throws where no typed result catches it is answered by the app's error masking:
// schema/input.ts's expectedFailure.)

const textScalars = new Set(['String', 'ID']);

/** The path and fault of the first text in `value` (of `type`) the database cannot hold. */
function findFault(value: unknown, type: GraphQLInputType, path: string): { path: string; reason: string } | null {
  if (value === null || value === undefined) return null;
  if (isNonNullType(type)) return findFault(value, type.ofType, path);
  if (isListType(type)) {
    if (!Array.isArray(value)) return findFault(value, type.ofType, path);
    for (let i = 0; i < value.length; i++) {
      const fault = findFault(value[i], type.ofType, `${path}[${i}]`);
      if (fault) return fault;
    }
    return null;
  }
  if (isInputObjectType(type)) {
    const fields = type.getFields();
    for (const [name, fieldValue] of Object.entries(value as Record<string, unknown>)) {
      const field = fields[name];
      const fault = field ? findFault(fieldValue, field.type, `${path}.${name}`) : null;
      if (fault) return fault;
    }
    return null;
  }
  if (isScalarType(type) && textScalars.has(type.name) && typeof value === 'string') {
    const reason = storableTextFault(value);
    return reason === null ? null : { path, reason };
  }
  return null;
}

/** Whether the field holds a text argument anywhere (others are left unwrapped). */
function takesText(type: GraphQLInputType, seen = new Set<string>()): boolean {
  const named = getNamedType(type);
  if (isScalarType(named)) return textScalars.has(named.name);
  if (!isInputObjectType(named) || seen.has(named.name)) return false;
  seen.add(named.name);
  return Object.values(named.getFields()).some((field) => takesText(field.type, seen));
}

function answersValidationError(field: GraphQLField<unknown, unknown>): boolean {
  const result = getNamedType(field.type);
  return isUnionType(result) && result.getTypes().some((member) => member.name === 'ValidationError');
}

function guard(field: GraphQLField<unknown, unknown>) {
  const resolve = field.resolve;
  // Only the arguments that can hold text are walked: whoHadMany's 10,000 lookups hold none.
  const textArgs = field.args.filter((arg) => takesText(arg.type));
  if (!resolve || textArgs.length === 0) return;
  const typedValidation = answersValidationError(field);
  field.resolve = (source, args: Record<string, unknown>, context, info) => {
    for (const arg of textArgs) {
      const fault = findFault(args[arg.name], arg.type, arg.name);
      if (!fault) continue;
      // ValidationError names a field as the input objects' own checks do: by its name alone.
      const name = fault.path
        .replace(/\[\d+\]/g, '')
        .split('.')
        .pop()!;
      // Wrapped as Pothos wraps a typed error: graphql-js would raise a returned Error instance.
      if (typedValidation) return wrapOrThrow(new ValidationError(name, fault.reason), [ValidationError]);
      throw badUserInput(fault.path, fault.reason);
    }
    return resolve(source, args, context, info);
  };
}

/** The schema, its fields refusing arguments as said above. */
export function guardArguments(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) guard(field);
  }
  return schema;
}
