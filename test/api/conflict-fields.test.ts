import { beforeEach, expect, it } from 'vitest';
import { MAPPING_FIELDS, createCustomer, createMapping, graphqlData, resetData } from '../helpers.js';

// A ConflictError's conflicts are read below Prisma (mappings/overlaps.ts): each field must come
// back as a read of the same mapping gives it, timestamps and 64-bit times included.
const FIELDS = `${MAPPING_FIELDS} createdAt updatedAt`;

beforeEach(async () => {
  await resetData();
  await createCustomer('U1001');
  await createCustomer('U2002');
});

it('lists each conflicting mapping with every field as a read of it gives', async () => {
  const held = await createMapping({ userId: 'U1001', ipsubnet: '2001:db8::/48', starttime: 1_700_000_000 });
  const refused = await graphqlData(
    `mutation($input: MappingInput!) { createMapping(input: $input) { __typename ... on ConflictError { conflicts { ${FIELDS} } } } }`,
    { input: { userId: 'U2002', ipsubnet: '2001:db8:0:1::5', starttime: 1_800_000_000, endtime: 1_800_000_100 } },
  );
  const read = await graphqlData(`query($id: Int!) { mapping(id: $id) { ${FIELDS} } }`, { id: held.id });
  expect(refused.createMapping.__typename).toBe('ConflictError');
  expect(refused.createMapping.conflicts).toEqual([read.mapping]);
  expect(read.mapping.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
});
