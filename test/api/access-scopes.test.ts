import { expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';

// Root fields have no type-level default scopes, so each must name its own; a field that
// forgot would be open to every authenticated caller in every context.
it('every query and mutation names the scopes it needs', () => {
  const unguarded = [schema.getQueryType()!, schema.getMutationType()!].flatMap((type) =>
    Object.values(type.getFields())
      .filter((field) => !(field.extensions as { pothosOptions?: { authScopes?: unknown } }).pothosOptions?.authScopes)
      .map((field) => `${type.name}.${field.name}`),
  );
  expect(unguarded).toEqual([]);
});
