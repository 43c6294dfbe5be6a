import { describe, expect, it } from 'vitest';
import { MAX_LEARNT_OPERATIONS } from '../../src/http/operations.js';
import { yoga } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

async function send(operationName: string, token?: string) {
  const response = await yoga.fetch('http://ipdr.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: `query ${operationName} { __typename }`, operationName }),
  });
  await response.arrayBuffer();
  return response.status;
}

const metricsText = async () => (await yoga.fetch('http://ipdr.test/metrics')).text();

async function operationLabels(): Promise<Set<string>> {
  const text = await metricsText();
  return new Set([...text.matchAll(/^ipdr_http_requests_total\{operation="([^"]*)"/gm)].map((match) => match[1]!));
}

describe('metrics labels', () => {
  it('gives names sent without a valid token no label of their own', async () => {
    const before = (await metricsText()).length;
    const statuses = new Set<number>();
    for (let i = 0; i < 300; i++) {
      statuses.add(await send(`Probe${i}`, i % 2 === 0 ? undefined : 'not-a-real-token-0123456789'));
    }
    expect([...statuses]).toEqual([401]);
    const labels = await operationLabels();
    expect([...labels].filter((label) => label.startsWith('Probe'))).toEqual([]);
    expect(labels).toContain('other');
    const after = (await metricsText()).length;
    // A handful of new series ("other" with its status and histogram), not 300 names' worth.
    expect(after - before).toBeLessThan(10_000);
  });

  it('labels the REST operations, and a bounded number of names from authenticated callers', async () => {
    expect(await send('RestListCustomers')).toBe(401);
    expect(await operationLabels()).toContain('RestListCustomers');

    for (let i = 0; i < MAX_LEARNT_OPERATIONS + 50; i++) expect(await send(`Report${i}`, ADMIN_TOKEN)).toBe(200);
    const learnt = [...(await operationLabels())].filter((label) => label.startsWith('Report'));
    expect(learnt).toHaveLength(MAX_LEARNT_OPERATIONS);
    expect(learnt).toContain('Report0');
    expect(learnt).not.toContain(`Report${MAX_LEARNT_OPERATIONS}`);
    // A name learnt is labelled again whoever sends it next.
    expect(await send('Report0')).toBe(401);
  });
});
