import SchemaBuilder, {
  BasePlugin,
  type PothosOutputFieldConfig,
  PothosValidationError,
  type SchemaTypes,
} from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';

// Relay's pagination algorithm applies `first` and then `last` when a client sends both
// (`first: 10, last: 2` is the 9th and 10th edges). Pothos' cursor connections page by one of
// them only (with both, by `last` over the whole list). This plugin runs such a connection
// forwards by `first` and keeps the last `last` of its edges.

const pluginName = 'relayFirstAndLast' as const;

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      relayFirstAndLast: RelayFirstAndLastPlugin<Types>;
    }
  }
}

interface ConnectionPage {
  edges: ({ cursor: string } | null)[];
  pageInfo: { startCursor: string | null; endCursor: string | null; hasPreviousPage: boolean };
}

interface PageArgs {
  first?: number | null;
  last?: number | null;
}

/** The last `last` edges of a page read forwards, with the page info saying what it left out. */
export function keepLastEdges<Page extends ConnectionPage>(page: Page, last: number): Page {
  if (page.edges.length <= last) return page;
  const edges = page.edges.slice(page.edges.length - last);
  return {
    ...page,
    edges,
    pageInfo: {
      ...page.pageInfo,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
      hasPreviousPage: true,
    },
  };
}

const isConnectionField = (config: PothosOutputFieldConfig<SchemaTypes>) =>
  ['first', 'last', 'before', 'after'].every((name) => name in config.args);

export class RelayFirstAndLastPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    if (!isConnectionField(fieldConfig as PothosOutputFieldConfig<SchemaTypes>)) return resolver;
    return async (parent, args: PageArgs, context, info) => {
      if (args.first == null || args.last == null) return resolver(parent, args, context, info);
      const { last, ...forwards } = args;
      // Pothos checks the page sizes it is given; `last` is not given to it.
      if (last < 0) throw new PothosValidationError('Argument "last" must be a non-negative integer');
      const page = (await resolver(parent, forwards, context, info)) as ConnectionPage | null;
      return page && keepLastEdges(page, last);
    };
  }
}

SchemaBuilder.registerPlugin(pluginName, RelayFirstAndLastPlugin);

/** The plugin's name, as `plugins: [...]` takes it. */
export default pluginName;
