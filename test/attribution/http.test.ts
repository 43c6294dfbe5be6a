import { once } from 'node:events';
import { type Server, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { createHttpServer } from '../../src/http/node-handler.js';
import { createCustomer, createMapping, graphqlData, resetData } from '../helpers.js';
import { createApp } from '../../src/app.js';
import { createRateLimiter } from '../../src/access/rate-limit.js';
import { app, db, env, logger, prisma, testEnv, yoga } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// POST /attribute: report rows in, the same rows with their holders out, in input order.

const SHARED = '203.0.113.77';
let staticId: number;
let insideId: number;
let bindingId: number;

beforeAll(async () => {
  await resetData();
  await createCustomer('U-STATIC', 'Static Customer');
  await createCustomer('U-INSIDE', 'Inside Subscriber');
  staticId = (await createMapping({ userId: 'U-STATIC', ipsubnet: '10.20.0.0/24', starttime: 1000, endtime: 5000 })).id;
  insideId = (await createMapping({ userId: 'U-INSIDE', ipsubnet: '100.64.5.5', starttime: 0 })).id;
  const binding = await graphqlData(
    `mutation($input: NatBindingInput!) { createNatBinding(input: $input) { __typename ... on NatBinding { id } } }`,
    { input: { publicAddress: SHARED, portFirst: 4096, portLast: 4351, insideAddress: '100.64.5.5', starttime: 2000 } },
  );
  bindingId = binding.createNatBinding.id;
});

const post = (body: string, contentType: string, query = 'reason=CASE-1', headers: Record<string, string> = {}) =>
  yoga.fetch(`http://ipdr.test/attribute?${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': contentType, ...headers },
    body,
  });

const csvOf = async (response: Response) => parse(await response.text(), { columns: true }) as Record<string, string>[];

describe('POST /attribute with CSV', () => {
  it('answers every row in input order, with the holder, the NAT hop, or why not', async () => {
    const body = [
      'ip,time,port,flow',
      '10.20.0.9,1500,,a',
      '10.20.0.9,1970-01-01T00:50:00+00:30,,b', // 3000 - 1800 = 1200
      '10.20.0.9,01-01-1970 01:10:00,,c', // UTC: 4200
      `${SHARED},3000,4100,d`,
      `${SHARED},3000,,e`,
      `${SHARED},3000,80,f`,
      '10.20.0.9,9999,,g',
      '127.1,1500,,h',
      '10.20.0.9,yesterday,,i',
      '10.20.0.9,1500,70000,j',
      '"10.20.0.9,1500,,k',
    ].join('\n');
    const response = await post(body, 'text/csv', 'reason=CASE-1&timezone=UTC');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = await csvOf(response);
    expect(rows.map((row) => row.flow)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', '']);
    expect(rows[0]).toEqual({
      ip: '10.20.0.9',
      time: '1500',
      port: '',
      flow: 'a',
      userid: 'U-STATIC',
      name: 'Static Customer',
      mapping_id: String(staticId),
      ipsubnet: '10.20.0.0/24',
      starttime: '1000',
      endtime: '5000',
      source: 'API',
      nat_kind: '',
      nat_id: '',
      nat_port_first: '',
      nat_port_last: '',
      nat_inside_address: '',
      nat_inside_context: '',
      nat_source: '',
      error: '',
    });
    expect(rows[1]!.userid).toBe('U-STATIC');
    expect(rows[2]!.userid).toBe('U-STATIC');
    expect(rows[3]).toMatchObject({
      userid: 'U-INSIDE',
      mapping_id: String(insideId),
      ipsubnet: '100.64.5.5',
      nat_kind: 'binding',
      nat_id: String(bindingId),
      nat_port_first: '4096',
      nat_port_last: '4351',
      nat_inside_address: '100.64.5.5',
      nat_inside_context: 'default',
      nat_source: 'API',
      error: '',
    });
    expect(rows[4]!.error).toMatch(
      /^port: 203\.0\.113\.77 was shared through carrier-grade NAT at 3000 \(1 port block\)/,
    );
    expect(rows[5]).toMatchObject({ userid: '', error: '' });
    expect(rows[6]).toMatchObject({ userid: '', error: '' });
    expect(rows[7]!.error).toMatch(/^ip: /);
    expect(rows[8]!.error).toMatch(/^time: "yesterday" is not a time/);
    expect(rows[9]!.error).toBe('port: 70000 is not a port (0-65535)');
    expect(rows[10]!.error).toMatch(/^line \d+: /);
  });

  it('reads DD-MM-YYYY HH:MM:SS in the zone given, and refuses it without one', async () => {
    const body = 'ip,time\n10.20.0.9,01-01-1970 06:50:00\n';
    // 06:50 in Asia/Kolkata (+05:30) is 01:20 UTC, 4800: held. Without a zone, the row says why not.
    const zoned = await csvOf(await post(body, 'text/csv', 'reason=CASE-1&timezone=Asia/Kolkata'));
    expect(zoned.map((row) => [row.userid, row.error])).toEqual([['U-STATIC', '']]);
    const unzoned = await csvOf(await post(body, 'text/csv'));
    expect(unzoned[0]!.error).toMatch(/^time: .* names no zone: give timezone=/);
  });

  it('answers 25,000 rows (three batches) in order, and logs each batch with its reason', async () => {
    const before = await prisma.lookupLogEntry.count({ where: { operation: 'attribute' } });
    const lines = ['time,ip'];
    for (let i = 0; i < 25_000; i++) lines.push(`${1000 + (i % 4000)},10.20.0.${i % 256}`);
    const rows = await csvOf(await post(lines.join('\n'), 'text/csv', 'reason=CASE-BULK'));
    expect(rows).toHaveLength(25_000);
    rows.forEach((row, i) => {
      expect(row.time).toBe(String(1000 + (i % 4000)));
      expect(row.ip).toBe(`10.20.0.${i % 256}`);
    });
    expect(rows.every((row) => row.userid === 'U-STATIC')).toBe(true);
    // Batches of at most 10,000 (a pause in the input sends a partial one sooner), each logged.
    const logged = await prisma.lookupLogEntry.findMany({ where: { operation: 'attribute', reason: 'CASE-BULK' } });
    expect(logged.reduce((sum, entry) => sum + entry.lookups, 0)).toBe(25_000);
    expect(logged.length).toBeGreaterThanOrEqual(3);
    for (const entry of logged) {
      expect(entry.lookups).toBeLessThanOrEqual(10_000);
      expect([entry.channel, entry.username]).toEqual(['attribute', 'admin']);
    }
    expect(await prisma.lookupLogEntry.count({ where: { operation: 'attribute' } })).toBe(before + logged.length);
  });

  it('refuses, before answering, what cannot be attributed: in GraphQL error shape, naming the field', async () => {
    const cases: [Response | Promise<Response>, number, Record<string, unknown>][] = [
      [post('ip,time\n', 'text/csv', ''), 400, { code: 'BAD_USER_INPUT', field: 'reason' }],
      [post('ip,time\n', 'text/csv', 'reason=C&timezone=Mars/Olympus'), 400, { field: 'timezone' }],
      [post('ip,when\n1.2.3.4,5\n', 'text/csv'), 400, { field: 'header' }],
      [post('ip,time,name\n1.2.3.4,5,x\n', 'text/csv'), 400, { field: 'header' }],
      [post('', 'text/csv'), 400, { field: 'header' }],
      [post('\n\n', 'text/csv'), 400, { field: 'header' }],
      [
        post(`${Array.from({ length: 1001 }, (_, i) => `c${i}`).join(',')},ip,time\n`, 'text/csv'),
        400,
        { field: 'header' },
      ],
      [post('{}', 'application/json'), 415, { code: 'UNSUPPORTED_MEDIA_TYPE' }],
      [post('ip,time\n', 'text/csv', 'reason=C', { authorization: 'Bearer nope' }), 401, { code: 'UNAUTHENTICATED' }],
      [post('ip,time\n', 'text/csv', 'reason=C', { 'x-context': 'nowhere' }), 403, { code: 'FORBIDDEN' }],
      [
        yoga.fetch('http://ipdr.test/attribute?reason=C', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
        405,
        { code: 'METHOD_NOT_ALLOWED' },
      ],
    ];
    for (const [answer, status, extensions] of cases) {
      const response = await answer;
      const body = await response.json();
      expect([response.status, body.errors[0].extensions]).toEqual([status, expect.objectContaining(extensions)]);
      expect(typeof body.errors[0].message).toBe('string');
    }
  });
});

describe('POST /attribute, carried-through columns', () => {
  it("writes back only the row's own cells, quoted where needed", async () => {
    const rows = await csvOf(
      await post('ip,time,constructor,note\n10.20.0.9,1500\n10.20.0.9,1500,x,"a, ""b""\nc"\n', 'text/csv'),
    );
    expect(rows.map((row) => [row.constructor, row.note, row.userid])).toEqual([
      ['', '', 'U-STATIC'],
      ['x', 'a, "b"\nc', 'U-STATIC'],
    ]);
  });
});

describe('POST /attribute with NDJSON', () => {
  it('echoes each object with its answer, numbers taken as text, a bad line answered in its place', async () => {
    const body = [
      JSON.stringify({ ip: '10.20.0.9', time: 1500, flow: 1 }),
      'not json',
      JSON.stringify({ ip: SHARED, time: '3000', port: 4100 }),
      JSON.stringify({ ip: '10.20.0.9', time: 1500, error: 'mine' }),
      JSON.stringify({ ip: '10.20.0.9', time: [1500] }),
      '',
      JSON.stringify({ ip: '10.20.0.9', time: '1970-01-01T00:25:00Z' }),
    ].join('\n');
    const response = await post(body, 'application/x-ndjson');
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    const rows = (await response.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(rows).toHaveLength(6);
    expect(rows[0]).toMatchObject({ ip: '10.20.0.9', time: 1500, flow: 1, userid: 'U-STATIC', mapping_id: staticId });
    expect(rows[1]).toMatchObject({ userid: null, error: 'line 2: not JSON' });
    expect(rows[2]).toMatchObject({ port: 4100, userid: 'U-INSIDE', nat_kind: 'binding', nat_port_first: 4096 });
    expect(rows[3]!.error).toBe('the field error is one the answer adds: rename it');
    expect(rows[4]!.error).toBe('time: must be a string or a number, not an array');
    expect(rows[5]).toMatchObject({ userid: 'U-STATIC', starttime: 1000, endtime: 5000, error: null });
  });
});

describe('POST /attribute over HTTP', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createHttpServer(app, { bodyLimitBytes: 4096, receiveTimeoutMs: 2000 });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('streams a body past the body limit and the receive timeout, and stops when the client goes away', async () => {
    const reason = `CASE-ABORT-${Date.now()}`;
    const request = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: `/attribute?reason=${reason}`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' },
    });
    request.on('error', () => {});
    const batch = (n: number) => Array.from({ length: n }, (_, i) => `10.20.0.${i % 256},${1000 + i}\n`).join('');
    request.write('ip,time\n');
    // Far more than the 4,096-byte body limit, sent over longer than the 2 s receive timeout.
    request.write(batch(10_000));
    const [response] = (await once(request, 'response')) as [import('node:http').IncomingMessage];
    expect(response.statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    request.write(batch(10_000));
    let received = '';
    for await (const chunk of response) {
      received += chunk;
      if (received.split('\n').length > 15_000) break;
    }
    // Gone, with its body unfinished: the server stops reading and answering.
    request.destroy();
    response.destroy();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const asked = async () =>
      (await prisma.lookupLogEntry.findMany({ where: { reason } })).reduce((sum, entry) => sum + entry.lookups, 0);
    const logged = await asked();
    // What was sent before it left, and nothing after.
    expect(logged).toBeGreaterThanOrEqual(10_000);
    expect(logged).toBeLessThanOrEqual(20_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await asked()).toBe(logged);
    // The server still answers.
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
  });

  it('closes a connection left silent both ways for the receive timeout', async () => {
    const quiet = createHttpServer(createTestAppWith({ RECEIVE_TIMEOUT_MS: '1000' }), {
      bodyLimitBytes: 4096,
      receiveTimeoutMs: 1000,
    });
    quiet.listen(0, '127.0.0.1');
    await once(quiet, 'listening');
    try {
      const request = httpRequest({
        host: '127.0.0.1',
        port: (quiet.address() as AddressInfo).port,
        method: 'POST',
        path: '/attribute?reason=CASE-IDLE',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' },
      });
      request.on('error', () => {});
      request.write('ip,time\n10.20.0.9,1500\n10.20.0.9,1600\n');
      const [response] = (await once(request, 'response')) as [import('node:http').IncomingMessage];
      response.on('error', () => {});
      const started = Date.now();
      response.resume();
      await once(response.socket, 'close');
      // Closed by the server after about a second of silence, not left open.
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      quiet.closeAllConnections();
      await new Promise((resolve) => quiet.close(resolve));
    }
  });

  it('ends the answer short, closing the connection, when the database fails mid-stream', async () => {
    let lookups = 0;
    const failing = {
      ...db,
      readRows: <Row>(sql: string, params: readonly unknown[]) => {
        if (sql.includes('"lookupIndex"') && ++lookups > 4) return Promise.reject(new Error('database gone'));
        return db.readRows<Row>(sql, params);
      },
    };
    const broken = createHttpServer(createTestAppWith({}, failing), { bodyLimitBytes: 4096, receiveTimeoutMs: 5000 });
    broken.listen(0, '127.0.0.1');
    await once(broken, 'listening');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const rows = Array.from({ length: 25_000 }, (_, i) => `10.20.0.${i % 256},${1000 + i}`).join('\n');
      const request = httpRequest({
        host: '127.0.0.1',
        port: (broken.address() as AddressInfo).port,
        method: 'POST',
        path: '/attribute?reason=CASE-BROKEN',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' },
      });
      request.on('error', () => {});
      request.end(`ip,time\n${rows}\n`);
      const [response] = (await once(request, 'response')) as [import('node:http').IncomingMessage];
      expect(response.statusCode).toBe(200);
      let received = '';
      const ended = await new Promise<'end' | 'aborted'>((resolve) => {
        response.on('data', (chunk) => (received += chunk));
        response.on('end', () => resolve('end'));
        response.on('error', () => resolve('aborted'));
        response.on('aborted', () => resolve('aborted'));
      });
      // The first batch was answered; the rest never pretends to be complete.
      expect(ended).toBe('aborted');
      expect(received.split('\n').length - 2).toBe(10_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      broken.closeAllConnections();
      await new Promise((resolve) => broken.close(resolve));
    }
  });
});

/** An app on this file's database with other settings, or another database handle. */
function createTestAppWith(overrides: Record<string, string>, database = db) {
  const appEnv = testEnv(overrides);
  return createApp({
    env: appEnv,
    db: database,
    logger,
    rateLimiter: createRateLimiter({ perMinute: appEnv.RATE_LIMIT_PER_MINUTE, redisUrl: appEnv.REDIS_URL, logger }),
    authFailureLimiter: createRateLimiter({ perMinute: 1000, redisUrl: appEnv.REDIS_URL, logger }),
  });
}
