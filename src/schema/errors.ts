import { builder } from '../builder.js';
import { IpMappingRef } from './mapping.js';
import {
  AlreadyExistsError,
  AmbiguousMappingError,
  ConflictError,
  CustomerHasMappingsError,
  NotFoundError,
  ValidationError,
} from '../errors.js';

export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  description: 'An expected failure: the operation did not happen, and this says why.',
  fields: (t) => ({ message: t.exposeString('message') }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'An input field broke a rule.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({
    field: t.exposeString('field'),
    reason: t.exposeString('reason'),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: (t) => ({
    entity: t.exposeString('entity'),
    key: t.exposeString('key'),
  }),
});

builder.objectType(AlreadyExistsError, {
  name: 'AlreadyExistsError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof AlreadyExistsError,
  fields: (t) => ({
    entity: t.exposeString('entity'),
    field: t.exposeString('field'),
    value: t.exposeString('value'),
  }),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description: 'The mapping would share an address at some instant with the mappings listed.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ConflictError,
  fields: (t) => ({
    conflicts: t.field({ type: [IpMappingRef], resolve: (error) => error.conflicts }),
  }),
});

builder.objectType(CustomerHasMappingsError, {
  name: 'CustomerHasMappingsError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof CustomerHasMappingsError,
  fields: (t) => ({
    userId: t.exposeString('userId'),
    mappingCount: t.exposeInt('mappingCount'),
  }),
});

builder.objectType(AmbiguousMappingError, {
  name: 'AmbiguousMappingError',
  description: 'The customer has several mappings and the request did not say which one it means.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof AmbiguousMappingError,
  fields: (t) => ({
    userId: t.exposeString('userId'),
    candidates: t.field({ type: [IpMappingRef], resolve: (error) => error.candidates }),
  }),
});
