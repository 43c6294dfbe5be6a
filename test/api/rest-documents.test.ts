import { parse, validate } from 'graphql';
import { expect, it } from 'vitest';
import { documents } from '../../src/rest/documents.js';
import { schema } from '../../src/schema/index.js';

it('every REST operation is valid against the schema', () => {
  for (const [name, source] of Object.entries(documents)) {
    expect(
      validate(schema, parse(source)).map((error) => error.message),
      name,
    ).toEqual([]);
  }
});
