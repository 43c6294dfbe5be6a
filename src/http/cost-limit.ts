import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  GraphQLError,
  type GraphQLObjectType,
  type GraphQLSchema,
  Kind,
  type SelectionSetNode,
  type ValueNode,
  type VariableDefinitionNode,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isAbstractType,
  isLeafType,
  isListType,
  isObjectType,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../schema/builder.js';
import { LIST_BOUND, type ListBound } from '../schema/list-bounds.js';

// What a request may cost, worked out from the document and its variables before any resolver
// runs, so that a request too large to answer is refused whole instead of answered slowly.
// graphql-armor's cost limit cannot do this: it runs at validation, without the variables, and
// counts a list as one item. Here a field weighs what it may return:
// - a scalar 1 (`__typename` and introspection 0), an object 1 plus its selection;
// - a list its bound times one item: a connection's `edges` its page size (`first`/`last`, else
//   the default page), a bounded list its `first` (else its default), `whoHadMany` its lookups.
// A fragment counts wherever it is spread (graphql-js merges a spread repeated in one selection,
// so this may count more than runs, never less); where the type is abstract, the dearest of the
// types it may be counts.

export interface CostLimits {
  maxCost: number;
  /** The whoHadMany lookups of a whole request, every such field together. */
  maxLookups: number;
}

export interface RequestCost {
  cost: number;
  lookups: number;
}

const FREE: RequestCost = { cost: 0, lookups: 0 };

interface Walk {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  variableDefinitions: Map<string, VariableDefinitionNode>;
  /** A fragment's cost on one object type and page size is the same wherever it is spread. */
  spreads: Map<string, RequestCost>;
}

/** The cost and the whoHadMany lookups of the operation a request runs (raw, uncoerced variables). */
export function requestCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): RequestCost {
  const operation = getOperationAST(document, operationName);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return FREE;
  const walk: Walk = {
    schema,
    fragments: new Map(
      document.definitions.flatMap((definition) =>
        definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition] as const] : [],
      ),
    ),
    variables: variables ?? {},
    variableDefinitions: new Map(
      (operation.variableDefinitions ?? []).map((definition) => [definition.variable.name.value, definition]),
    ),
    spreads: new Map(),
  };
  return objectSelectionCost(walk, operation.selectionSet, root, undefined);
}

function selectionCost(
  walk: Walk,
  set: SelectionSetNode | undefined,
  type: GraphQLCompositeType,
  page: number | undefined,
): RequestCost {
  if (!set) return FREE;
  if (isObjectType(type)) return objectSelectionCost(walk, set, type, page);
  let dearest = FREE;
  for (const possible of walk.schema.getPossibleTypes(type)) {
    const cost = objectSelectionCost(walk, set, possible, page);
    dearest = { cost: Math.max(dearest.cost, cost.cost), lookups: Math.max(dearest.lookups, cost.lookups) };
  }
  return dearest;
}

/** The cost of a selection on a value of one object type (`page`: the size of a connection's page). */
function objectSelectionCost(
  walk: Walk,
  set: SelectionSetNode,
  type: GraphQLObjectType,
  page: number | undefined,
): RequestCost {
  let cost = 0;
  let lookups = 0;
  const add = (part: RequestCost) => {
    cost += part.cost;
    lookups += part.lookups;
  };
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value.startsWith('__')) continue;
      const field = type.getFields()[selection.name.value];
      if (field) add(fieldCost(walk, field, selection, page));
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      if (!selection.typeCondition || applies(walk, selection.typeCondition.name.value, type)) {
        add(objectSelectionCost(walk, selection.selectionSet, type, page));
      }
    } else {
      const fragment = walk.fragments.get(selection.name.value);
      if (!fragment || !applies(walk, fragment.typeCondition.name.value, type)) continue;
      const key = `${fragment.name.value} ${type.name} ${page}`;
      let spread = walk.spreads.get(key);
      if (!spread) {
        spread = objectSelectionCost(walk, fragment.selectionSet, type, page);
        walk.spreads.set(key, spread);
      }
      add(spread);
    }
  }
  return { cost, lookups };
}

function applies(walk: Walk, typeCondition: string, type: GraphQLObjectType): boolean {
  const condition = walk.schema.getType(typeCondition);
  return condition === type || (isAbstractType(condition) && walk.schema.isSubType(condition, type));
}

const isConnectionField = (field: GraphQLField<unknown, unknown>) =>
  ['first', 'last', 'after', 'before'].every((name) => field.args.some((arg) => arg.name === name));

function fieldCost(
  walk: Walk,
  field: GraphQLField<unknown, unknown>,
  node: FieldNode,
  page: number | undefined,
): RequestCost {
  const type = getNullableType(field.type);
  const items = isListType(type) ? listBound(walk, field, node, page) : 1;
  const named = getNamedType(type);
  if (isLeafType(named)) return { cost: items, lookups: 0 };
  const childPage = isConnectionField(field) ? connectionPage(walk, field, node) : undefined;
  const child = selectionCost(walk, node.selectionSet, named, childPage);
  const bound = field.extensions[LIST_BOUND] as ListBound | undefined;
  return {
    cost: items * (1 + child.cost),
    lookups: items * child.lookups + (bound?.kind === 'lengthOf' && bound.lookups ? items : 0),
  };
}

/** How many items a list field may return. */
function listBound(
  walk: Walk,
  field: GraphQLField<unknown, unknown>,
  node: FieldNode,
  page: number | undefined,
): number {
  const bound = field.extensions[LIST_BOUND] as ListBound | undefined;
  if (bound?.kind === 'argument') {
    const asked = intArgument(walk, field, node, bound.argument);
    return Math.min(Math.max(asked ?? bound.default, 0), bound.max);
  }
  if (bound?.kind === 'lengthOf') {
    const length = listLength(walk, argumentValue(field, node, bound.argument));
    return bound.alternative === undefined
      ? length
      : Math.max(length, listLength(walk, argumentValue(field, node, bound.alternative)));
  }
  if (field.name === 'edges' && page !== undefined) return page;
  // A list that says nothing of its size could be of any size (test/api/cost-limit.test.ts checks
  // that the schema has none).
  return Number.POSITIVE_INFINITY;
}

/** The page size of a connection field: `first`, then `last` of those, else the default page. */
function connectionPage(walk: Walk, field: GraphQLField<unknown, unknown>, node: FieldNode): number {
  const sizes = ['first', 'last']
    .map((name) => intArgument(walk, field, node, name))
    .filter((size): size is number => size != null);
  const size = sizes.length > 0 ? Math.min(...sizes) : DEFAULT_PAGE_SIZE;
  return Math.min(Math.max(size, 0), MAX_PAGE_SIZE);
}

/** What an argument is given: the literal written (maybe a variable), or the argument's default. */
type Given = { node: ValueNode } | { default: unknown };

function argumentValue(field: GraphQLField<unknown, unknown>, node: FieldNode, name: string): Given {
  const argument = node.arguments?.find((arg) => arg.name.value === name);
  if (!argument) return { default: field.args.find((arg) => arg.name === name)?.defaultValue };
  return { node: argument.value };
}

/** A variable's value as sent, else its declared default (as a literal); undefined when neither. */
function variableValue(walk: Walk, name: string): { value: unknown } | { node: ValueNode } | undefined {
  if (Object.hasOwn(walk.variables, name)) return { value: walk.variables[name] };
  const declared = walk.variableDefinitions.get(name)?.defaultValue;
  return declared ? { node: declared } : undefined;
}

/**
 * An Int argument's value; null when null or absent with no default. A value that is not an
 * integer counts as the largest: it never runs (validation or coercion refuses it), and a request
 * whose variables fail coercion gets that error, not the cost's (useCostLimit).
 */
function intArgument(walk: Walk, field: GraphQLField<unknown, unknown>, node: FieldNode, name: string) {
  const given = argumentValue(field, node, name);
  if (!('node' in given)) return given.default == null ? null : Number(given.default);
  let value: unknown;
  let literal: ValueNode | undefined = given.node;
  if (literal.kind === Kind.VARIABLE) {
    const sent = variableValue(walk, literal.name.value);
    if (!sent) return null;
    if ('value' in sent) value = sent.value;
    literal = 'node' in sent ? sent.node : undefined;
  }
  if (literal) {
    if (literal.kind === Kind.NULL) return null;
    value = literal.kind === Kind.INT ? Number(literal.value) : Number.NaN;
  }
  if (value == null) return null;
  return typeof value === 'number' && Number.isInteger(value) ? value : Number.POSITIVE_INFINITY;
}

/** How many items a list argument has (a single value is a list of one, as coercion makes it). */
function listLength(walk: Walk, given: Given): number {
  if (!('node' in given)) return Array.isArray(given.default) ? given.default.length : given.default == null ? 0 : 1;
  let literal: ValueNode | undefined = given.node;
  if (literal.kind === Kind.VARIABLE) {
    const sent = variableValue(walk, literal.name.value);
    if (!sent) return 0;
    if ('value' in sent) return Array.isArray(sent.value) ? sent.value.length : sent.value == null ? 0 : 1;
    literal = sent.node;
  }
  if (literal.kind === Kind.LIST) return literal.values.length;
  return literal.kind === Kind.NULL ? 0 : 1;
}

const refusal = (message: string, code: string, extensions: Record<string, unknown>) =>
  new GraphQLError(message, { extensions: { code, ...extensions, http: { status: 400 } } });

/**
 * Whether the request's variables fail coercion to their declared types. Then execution answers
 * with graphql-js's own error naming the variable ('Variable "$f" got invalid value …'), and runs
 * nothing: refusing such a request here would blame its cost for a value of the wrong type.
 */
function variablesFailCoercion(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): boolean {
  const operation = getOperationAST(document, operationName);
  if (!operation) return false;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {}, { maxErrors: 1 });
  return coerced.errors !== undefined;
}

/**
 * Refuses, before anything runs, a request that may cost more than `maxCost` or asks more than
 * `maxLookups` lookups in all. Hooked at execution, where the variables are known.
 */
export function useCostLimit(limits: CostLimits): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const { cost, lookups } = requestCost(args.schema, args.document, args.operationName, args.variableValues);
      if (lookups <= limits.maxLookups && cost <= limits.maxCost) return;
      // The walk reads the variables as sent; only a request it would refuse pays for coercing
      // them (execution coerces them again), as whoHadMany's may be 10,000 lookups.
      if (variablesFailCoercion(args.schema, args.document, args.operationName, args.variableValues)) return;
      if (lookups > limits.maxLookups) {
        const reason = `at most ${limits.maxLookups} per request (got ${lookups})`;
        setResultAndStopExecution({
          errors: [refusal(`lookups: ${reason}`, 'BAD_USER_INPUT', { field: 'lookups', reason, lookups })],
        });
      } else if (cost > limits.maxCost) {
        const shown = Number.isFinite(cost) ? String(cost) : 'unbounded';
        setResultAndStopExecution({
          errors: [
            refusal(
              `Query cost ${shown} exceeds the limit of ${limits.maxCost}: a list counts its items (its \`first\`, or its default size), so ask for fewer items or fewer fields, or page.`,
              'COST_LIMIT_EXCEEDED',
              { cost: Number.isFinite(cost) ? cost : null, maxCost: limits.maxCost },
            ),
          ],
        });
      }
    },
  };
}
