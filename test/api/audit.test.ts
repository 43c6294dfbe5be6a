import { beforeEach, describe, expect, it } from 'vitest';
import { createCustomer, createMapping, graphqlData, resetData } from '../helpers.js';

const EVENTS = `query($type: String, $id: Int) { auditEvents(entityType: $type, entityId: $id) {
  totalCount edges { node { id at actor channel action entityType entityId before after } } } }`;

async function events(type?: string, id?: number) {
  return (await graphqlData(EVENTS, { type, id })).auditEvents.edges.map((edge: any) => edge.node);
}

beforeEach(() => resetData());

describe('audit trail', () => {
  it('records each change with before- and after-images', async () => {
    const customer = await createCustomer('U1', 'First Name');
    await graphqlData('mutation { patchCustomer(userId: "U1", input: { name: "Second Name" }) { __typename } }');
    const trail = await events('customer', customer.id);
    expect(trail.map((e: any) => e.action)).toEqual(['create', 'update']);
    expect(trail[0]).toMatchObject({
      actor: 'admin',
      channel: 'graphql',
      before: null,
      after: { userId: 'U1', name: 'First Name' },
    });
    expect(trail[1]).toMatchObject({ before: { name: 'First Name' }, after: { name: 'Second Name' } });
    expect(Date.parse(trail[0].at)).not.toBeNaN();
  });

  it('keeps a deleted customer and its mappings readable in full', async () => {
    await createCustomer('U1', 'Gone Customer');
    await graphqlData(
      'mutation { patchCustomer(userId: "U1", input: { email: "gone@example.net", address: "Old Street 1" }) { __typename } }',
    );
    const mapping = await createMapping({
      userId: 'U1',
      ipsubnet: '192.168.1.25/16',
      starttime: 1723431899,
      endtime: 1723444899,
      terminalId: 'T9',
    });
    const deleted = await graphqlData('mutation { deleteCustomer(userId: "U1", cascade: true) { __typename } }');
    expect(deleted.deleteCustomer.__typename).toBe('Customer');

    const deletions = (await events()).filter((e: any) => e.action === 'delete');
    expect(deletions.map((e: any) => e.entityType)).toEqual(['mapping', 'customer']);
    const [mappingEvent, customerEvent] = deletions;
    expect(mappingEvent.entityId).toBe(mapping.id);
    expect(mappingEvent.after).toBeNull();
    expect(mappingEvent.before).toMatchObject({
      id: mapping.id,
      userId: 'U1',
      ipsubnet: '192.168.1.25/16',
      network: '192.168.0.0/16',
      starttime: 1723431899,
      endtime: 1723444899,
      terminalId: 'T9',
    });
    expect(customerEvent.before).toMatchObject({
      userId: 'U1',
      name: 'Gone Customer',
      email: 'gone@example.net',
      address: 'Old Street 1',
      phoneNumber: null,
      altPhoneNumber: null,
    });
  });

  it('writes nothing when a change is refused', async () => {
    await createCustomer('U1');
    await createMapping({ userId: 'U1', ipsubnet: '10.0.0.0/8', starttime: 0 });
    const before = (await graphqlData('{ auditEvents { totalCount } }')).auditEvents.totalCount;
    const conflict = await createMapping({ userId: 'U1', ipsubnet: '10.1.0.0/16', starttime: 5 });
    expect(conflict.__typename).toBe('ConflictError');
    await graphqlData('mutation { deleteCustomer(userId: "U1") { __typename } }');
    expect((await graphqlData('{ auditEvents { totalCount } }')).auditEvents.totalCount).toBe(before);
  });

  it('records both halves of a reassignment', async () => {
    await createCustomer('U1');
    await createCustomer('U2');
    const old = await createMapping({ userId: 'U1', ipsubnet: '10.0.0.1', starttime: 0 });
    await graphqlData('mutation { reassignMapping(ipsubnet: "10.0.0.1", toUserId: "U2", at: 500) { __typename } }');
    const trail = (await events('mapping')).slice(1);
    expect(trail.map((e: any) => [e.action, e.entityId === old.id])).toEqual([
      ['update', true],
      ['create', false],
    ]);
    expect(trail[0].before.endtime).toBeNull();
    expect(trail[0].after.endtime).toBe(499);
    expect(trail[1].after).toMatchObject({ userId: 'U2', starttime: 500, endtime: null });
  });
});
