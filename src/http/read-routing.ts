import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RequestContext } from '../context.js';

/**
 * A mutation reads on the primary, what it wrote included: its payload, and every later
 * operation of the same request (a REST call runs several on one context, which shares its route).
 */
export function useReadRouting(): Plugin<RequestContext> {
  return {
    onExecute({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation === 'mutation') (args.contextValue as RequestContext).reads.pinPrimary();
    },
  };
}
