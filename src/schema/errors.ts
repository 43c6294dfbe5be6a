import { builder } from './builder.js';
import { IpMappingRef } from '../mappings/schema.js';
import {
  AlreadyExistsError,
  AmbiguousMappingError,
  BusyError,
  ConflictError,
  CustomerHasMappingsError,
  HolderConflictError,
  type NatHolder,
  MAX_LISTED_MAPPINGS,
  NotFoundError,
  ValidationError,
} from '../errors.js';
import { firstDescription, listBound, takeFirst } from './list-bounds.js';
import { MAX_LISTED_HOLDERS } from '../nat/holders.js';

// The mappings an error lists, bounded like every list (see list-bounds.ts).
const ERROR_LISTS = { default: 100, max: MAX_LISTED_MAPPINGS };

export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  description: 'An expected failure: the operation did not happen, and this says why.',
  fields: (t) => ({
    message: t.exposeString('message', { description: 'What went wrong, in a sentence for people.' }),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'An input field broke a rule.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({
    field: t.exposeString('field', {
      description:
        'The input field or argument whose value was refused, e.g. `ipsubnet` or `endtime`; a field of `choose` by its path, e.g. `choose.ipsubnet`.',
    }),
    reason: t.exposeString('reason', { description: 'Why the value was refused, e.g. `must not be empty`.' }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description: 'Something the operation names does not exist (in this context, for customers and mappings).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: (t) => ({
    entity: t.exposeString('entity', {
      description: 'What kind of thing is missing: customer, mapping, context, user, grant or token.',
    }),
    key: t.exposeString('key', {
      description: 'What it was looked up by: a UserID, a mapping id, a name, or a description of the choice.',
    }),
  }),
});

builder.objectType(AlreadyExistsError, {
  name: 'AlreadyExistsError',
  description: 'The value of a field that must be unique is taken, e.g. a UserID already used in this context.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof AlreadyExistsError,
  fields: (t) => ({
    entity: t.exposeString('entity', {
      description: 'What kind of thing holds the value: customer, context, user or token.',
    }),
    field: t.exposeString('field', { description: 'The field whose value is taken, e.g. `userId`.' }),
    value: t.exposeString('value', {
      description: 'The value that is taken (of a token, only its hint: its last characters).',
    }),
  }),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description: 'The mapping would share an address at some instant with the mappings listed.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ConflictError,
  fields: (t) => ({
    conflicts: t.field({
      type: [IpMappingRef],
      description:
        'The mappings in the way, in id order, at most `first`; empty when the overlapping one was written at the same moment and is not yet visible.',
      args: {
        first: t.arg.int({ defaultValue: ERROR_LISTS.default, description: firstDescription('mappings', ERROR_LISTS) }),
      },
      extensions: listBound({ kind: 'argument', argument: 'first', ...ERROR_LISTS }),
      resolve: (error, args) => error.conflicts.slice(0, takeFirst(args.first, ERROR_LISTS)),
    }),
    conflictCount: t.exposeInt('conflictCount', {
      description: 'How many mappings are in the way in all; `conflicts` lists the first of them.',
    }),
  }),
});

// Each kind of holder a refusal lists is bounded apart (nat/holders.ts).
const HOLDER_LISTS = { default: 3 * MAX_LISTED_HOLDERS, max: 3 * MAX_LISTED_HOLDERS };

const NatHolderKind = builder.enumType('NatHolderKind', {
  description: 'What kind of record holds ports of an address for a while.',
  values: {
    mapping: { description: 'A mapping (static or RADIUS): every port of its addresses.' },
    binding: { description: 'A carrier-grade NAT port-block binding: its ports of one public address.' },
    rule: { description: 'A deterministic NAT rule: every port of its outside prefix.' },
  } as const,
});

const NatHolderRef = builder.objectRef<NatHolder>('NatHolder').implement({
  description: 'A record in the way of a write: it holds some of the same ports at some of the same instants.',
  fields: (t) => ({
    kind: t.field({ type: NatHolderKind, resolve: (holder) => holder.kind, description: 'Its kind.' }),
    id: t.exposeInt('id', { description: 'Its id among the records of its kind.' }),
    description: t.exposeString('description', { description: 'It in a phrase: address, ports, period.' }),
  }),
});

builder.objectType(HolderConflictError, {
  name: 'HolderConflictError',
  description:
    'The write would give an address and port a second holder at some instant, across kinds: a mapping against a NAT port block or rule, a rule against a binding or another rule, a binding against another holder.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof HolderConflictError,
  fields: (t) => ({
    holders: t.field({
      type: [NatHolderRef],
      description:
        'Those in the way, mappings first then bindings then rules, each in id order (at most 10 of each kind); empty when the other was written at the same moment and is not yet visible.',
      args: {
        first: t.arg.int({
          defaultValue: HOLDER_LISTS.default,
          description: firstDescription('holders', HOLDER_LISTS),
        }),
      },
      extensions: listBound({ kind: 'argument', argument: 'first', ...HOLDER_LISTS }),
      resolve: (error, args) => error.holders.slice(0, takeFirst(args.first, HOLDER_LISTS)),
    }),
  }),
});

builder.objectType(CustomerHasMappingsError, {
  name: 'CustomerHasMappingsError',
  description: 'The customer still has mappings, so it was not deleted: delete them first, or pass `cascade: true`.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof CustomerHasMappingsError,
  fields: (t) => ({
    userId: t.exposeString('userId', { description: "The customer's UserID." }),
    mappingCount: t.exposeInt('mappingCount', { description: 'How many mappings it has, ended ones included.' }),
  }),
});

builder.objectType(AmbiguousMappingError, {
  name: 'AmbiguousMappingError',
  description:
    'The request did not single out one of the customer’s mappings: it named none and the customer has several, or named one the customer does not have. `candidates` lists what it may mean, `candidateCount` how many there are.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof AmbiguousMappingError,
  fields: (t) => ({
    userId: t.exposeString('userId', { description: "The customer's UserID." }),
    candidates: t.field({
      type: [IpMappingRef],
      description:
        'Its mappings in id order, at most `first`, one of which the request must name (by `id` or `ipsubnet` in `choose`).',
      args: {
        first: t.arg.int({ defaultValue: ERROR_LISTS.default, description: firstDescription('mappings', ERROR_LISTS) }),
      },
      extensions: listBound({ kind: 'argument', argument: 'first', ...ERROR_LISTS }),
      resolve: (error, args) => error.candidates.slice(0, takeFirst(args.first, ERROR_LISTS)),
    }),
    candidateCount: t.exposeInt('candidateCount', {
      description: 'How many mappings it may mean in all; `candidates` lists the first of them.',
    }),
  }),
});

builder.objectType(BusyError, {
  name: 'BusyError',
  description:
    'The write could not be done now (it kept losing to concurrent writes of the same rows, or the database had no connection free in time). Nothing changed: send the same request again after `retryAfterSeconds`.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof BusyError,
  fields: (t) => ({
    retryAfterSeconds: t.exposeInt('retryAfterSeconds', {
      description: 'How long to wait before sending the request again, in seconds.',
    }),
  }),
});
