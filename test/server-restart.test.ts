import { rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { post, startServer, stopServer } from './server-process.js';
import { newDataDir } from './setup/data-dir.js';

const dataDir = newDataDir('ipdr-restart');
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function getWithBody(url: string, body: string) {
  return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: 'GET', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(text) }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

const TOKEN_LINE = /Admin API token \(shown once, store it now\): (\S+)/;

describe('embedded database across a restart', () => {
  it('prints the admin token once, and keeps everything written before the restart', async () => {
    const env = { DATA_DIR: dataDir, NODE_ENV: 'test', IPDR_ADMIN_TOKEN: '' };
    const first = await startServer(env);
    const token = TOKEN_LINE.exec(first.output())?.[1];
    expect(token).toMatch(/^ipdr_/);
    expect(first.output()).toContain('applied migrations');
    const created = await post(
      first,
      token!,
      `mutation {
        c: createCustomer(input: { userId: "U1", name: "Kept", email: "kept@example.net" }) { __typename }
        m: createMapping(input: { userId: "U1", ipsubnet: "2001:db8::/48", starttime: 100, terminalId: "T1" }) { __typename }
      }`,
    );
    expect(created.body.data).toEqual({ c: { __typename: 'Customer' }, m: { __typename: 'IpMapping' } });
    expect(await stopServer(first)).toBe(0);

    const second = await startServer(env);
    try {
      expect(second.output()).not.toContain('applied migrations');
      expect(second.output()).not.toMatch(TOKEN_LINE);
      const read = await post(
        second,
        token!,
        `{ customer(userId: "U1") { name email mappings { ipsubnet starttime terminalId } }
           whoHad(ip: "2001:db8::5", at: 200) { customer { userId } }
           auditEvents { totalCount } }`,
      );
      expect(read.body.data).toEqual({
        customer: {
          name: 'Kept',
          email: 'kept@example.net',
          mappings: [{ ipsubnet: '2001:db8::/48', starttime: 100, terminalId: 'T1' }],
        },
        whoHad: { customer: { userId: 'U1' } },
        auditEvents: { totalCount: 2 },
      });
      // Trisul's callers send GET requests with a JSON body, as curl -X GET -d does.
      const listed = await getWithBody(
        second.url.replace('/graphql', '/api/ipdrcustomers'),
        JSON.stringify({ api_token: token, username: 'admin', contextname: 'default' }),
      );
      expect(listed).toEqual({
        status: 200,
        body: [
          {
            id: 1,
            Name: 'Kept',
            Address: '',
            Email: 'kept@example.net',
            PhoneNumber: '',
            AltPhoneNumber: '',
            UserID: 'U1',
          },
        ],
      });
    } finally {
      expect(await stopServer(second)).toBe(0);
    }
  });

  it('refuses a second process on the same embedded database', async () => {
    const running = await startServer({ DATA_DIR: dataDir, NODE_ENV: 'test' });
    try {
      await expect(startServer({ DATA_DIR: dataDir, NODE_ENV: 'test' })).rejects.toThrow(
        /is in use by process \d+; stop it first/,
      );
    } finally {
      expect(await stopServer(running)).toBe(0);
    }
  });
});
