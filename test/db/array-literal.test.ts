import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainArrayLiteral, textArrayLiteral } from '../../src/db/array-literal.js';
import { db } from '../setup/app.js';

// The database is the oracle: what it reads from the literal is the array it was made from.
describe('array literals', () => {
  it('reads back any text array, quotes, backslashes, braces, commas, NULL and empty strings included', async () => {
    const element = fc.oneof(
      fc.constantFrom(null, '', 'NULL', 'null', '"', '\\', '{}', 'a,b', ' padded ', '\\"'),
      fc.string({ unit: 'grapheme' }).filter((text) => !text.includes('\u0000')),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(element, { maxLength: 20 }), async (elements) => {
        const [row] = await db.database.read<{ value: (string | null)[] }>('SELECT $1::text[] AS value', [
          textArrayLiteral(elements),
        ]);
        expect(row!.value).toEqual(elements);
      }),
      { numRuns: 200 },
    );
  });

  it('reads back integers, booleans and addresses', async () => {
    const [row] = await db.database.read<{ numbers: string[]; flags: boolean[]; addresses: string[] }>(
      'SELECT $1::int8[]::text[] AS numbers, $2::bool[] AS flags, $3::inet[]::text[] AS addresses',
      [
        plainArrayLiteral([0n, -1, 253402300799n, null]),
        plainArrayLiteral([true, false, null]),
        plainArrayLiteral(['10.0.0.1/32', '2001:db8::/64']),
      ],
    );
    expect(row).toEqual({
      numbers: ['0', '-1', '253402300799', null],
      flags: [true, false, null],
      addresses: ['10.0.0.1/32', '2001:db8::/64'],
    });
  });
});
