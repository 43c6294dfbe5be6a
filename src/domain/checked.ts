declare const checkedBy: unique symbol;

/**
 * A value that a domain rule accepted. Only the rule's own function (in src/domain/ or
 * access/tokens.ts) returns one, so a store that takes `Checked<…>` cannot be handed raw input:
 * the schema edge, the CLI and the environment check first, and the store checks nothing again.
 */
export type Checked<T, Rule extends string> = T & { readonly [checkedBy]: Rule };

/** Marks a value as accepted by `Rule`: for the rule's own function, once it has checked it. */
export const accept = <T, Rule extends string>(value: T): Checked<T, Rule> => value as Checked<T, Rule>;
