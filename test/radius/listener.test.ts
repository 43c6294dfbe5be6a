import { type Socket, createSocket } from 'node:dgram';
import { Registry } from 'prom-client';
import radius from 'radius';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIpSubnet } from '../../src/domain/ip.js';
import type { AccountingInput } from '../../src/domain/radius-session.js';
import { createLogger } from '../../src/logger.js';
import { type RadiusListener, startRadiusListener } from '../../src/radius/listener.js';
import type { AccountingBatch, AccountingResult } from '../../src/radius/store.js';

// The listener's protocol rules with a store that the test controls: when a group commits, what
// it held, and whether it fails. (test/radius/radclient.test.ts runs it with the real store and client.)

const SECRET = 'listener-secret';
const tenant = { id: 1, name: 'default' };

interface Call {
  batches: AccountingBatch[];
  commit: () => void;
  fail: (error: Error) => void;
}

const calls: Call[] = [];
let listener: RadiusListener;
let client: Socket;
const registry = new Registry();
const answers: Buffer[] = [];

beforeAll(async () => {
  listener = await startRadiusListener({
    host: '127.0.0.1',
    port: 0,
    clients: [{ address: parseIpSubnet('127.0.0.1'), secret: SECRET, tenant }],
    apply: (batches) =>
      new Promise<AccountingResult[]>((resolve, reject) => {
        calls.push({
          batches,
          commit: () =>
            resolve(
              batches.map((batch) => ({
                outcomes: batch.inputs.map(() => 'applied' as const),
                conflicts: 0,
                sessionsChanged: batch.inputs.length,
                mappingsChanged: batch.inputs.length,
              })),
            ),
          fail: reject,
        });
      }),
    batchSize: 100,
    queueLimit: 1000,
    logger: createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'test' }),
    registry,
  });
  client = createSocket('udp4');
  client.on('message', (message) => answers.push(message));
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const call of calls) call.commit();
  await listener.stop();
  client.close();
});

const request = (identifier: number, sessionId: string, secret = SECRET) =>
  radius.encode({
    code: 'Accounting-Request',
    identifier,
    secret,
    attributes: [
      ['User-Name', 'alice'],
      ['Acct-Status-Type', 'Start'],
      ['Acct-Session-Id', sessionId],
      ['Framed-IP-Address', '100.64.1.2'],
      ['Event-Timestamp', new Date(1_780_000_000_000)],
    ],
  });

const send = (packet: Buffer) => client.send(packet, listener.port, '127.0.0.1');
const until = async (condition: () => boolean, ms = 2000) => {
  for (const started = Date.now(); !condition();) {
    if (Date.now() - started > ms) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));
const packetsCounted = async (outcome: string) =>
  (await registry.getSingleMetric('ipdr_radius_packets_total')!.get()).values.find((v) => v.labels.outcome === outcome)
    ?.value ?? 0;
const sessionIds = (call: Call) =>
  call.batches.flatMap((batch) =>
    batch.inputs.map((input: AccountingInput) => (input.kind === 'session' ? input.session.acctSessionId : input.kind)),
  );

describe('the accounting listener', () => {
  it('answers only once the group holding the request has committed, and groups what arrives meanwhile', async () => {
    calls.length = 0;
    answers.length = 0;
    send(request(1, 'g1'));
    await until(() => calls.length === 1);
    send(request(2, 'g2'));
    send(request(3, 'g3'));
    await settle();
    expect(answers).toHaveLength(0);
    expect(calls).toHaveLength(1);

    calls[0]!.commit();
    await until(() => answers.length === 1 && calls.length === 2);
    expect(answers[0]![1]).toBe(1);
    expect(sessionIds(calls[1]!)).toEqual(['g2', 'g3']);
    calls[1]!.commit();
    await until(() => answers.length === 3);
    const reply = answers[0]!;
    expect(reply[0]).toBe(5); // Accounting-Response
    expect(radius.verify_response({ request: request(1, 'g1'), response: reply, secret: SECRET })).toBe(true);
  });

  it('answers a retransmission from its cache, and drops one that comes while the first is in flight', async () => {
    calls.length = 0;
    answers.length = 0;
    const packet = request(10, 'r1');
    send(packet);
    await until(() => calls.length === 1);
    send(packet);
    await settle();
    expect(calls).toHaveLength(1);
    calls[0]!.commit();
    await until(() => answers.length === 1);
    send(packet);
    await until(() => answers.length === 2);
    await settle();
    expect(calls).toHaveLength(1);
    expect(answers[1]).toEqual(answers[0]);
    expect(await packetsCounted('retransmission_answered')).toBeGreaterThanOrEqual(1);
    expect(await packetsCounted('retransmission_in_flight')).toBeGreaterThanOrEqual(1);
  });

  it('answers nothing while the database fails, and takes the retransmission in anew once it answers', async () => {
    calls.length = 0;
    answers.length = 0;
    const packet = request(20, 'f1');
    send(packet);
    await until(() => calls.length === 1);
    calls[0]!.fail(new Error('connection refused'));
    await settle();
    expect(answers).toHaveLength(0);
    send(packet);
    await until(() => calls.length === 2);
    calls[1]!.commit();
    await until(() => answers.length === 1);
  });

  it('retries a refused group request by request, so one the database refuses holds back no other', async () => {
    calls.length = 0;
    answers.length = 0;
    send(request(30, 'blocker'));
    await until(() => calls.length === 1);
    send(request(31, 'bad'));
    send(request(32, 'good'));
    await settle();
    calls[0]!.commit();
    await until(() => calls.length === 2);
    expect(sessionIds(calls[1]!)).toEqual(['bad', 'good']);
    calls[1]!.fail(new Error('check constraint violated'));
    await until(() => calls.length === 3);
    expect(sessionIds(calls[2]!)).toEqual(['bad']);
    calls[2]!.fail(new Error('check constraint violated'));
    await until(() => calls.length === 4);
    expect(sessionIds(calls[3]!)).toEqual(['good']);
    calls[3]!.commit();
    await until(() => answers.length === 2);
    expect(answers.map((answer) => answer[1])).toEqual([30, 32]);
  });

  it('stops retrying a refused group request by request once two fail in a row: the database is down', async () => {
    calls.length = 0;
    answers.length = 0;
    send(request(50, 'holder'));
    await until(() => calls.length === 1);
    for (const [offset, id] of ['d1', 'd2', 'd3', 'd4'].entries()) send(request(51 + offset, id));
    await settle();
    calls[0]!.commit();
    await until(() => calls.length === 2);
    expect(sessionIds(calls[1]!)).toEqual(['d1', 'd2', 'd3', 'd4']);
    calls[1]!.fail(new Error('connection refused'));
    await until(() => calls.length === 3);
    calls[2]!.fail(new Error('connection refused'));
    await until(() => calls.length === 4);
    calls[3]!.fail(new Error('connection refused'));
    await settle();
    // d3 and d4 were not tried alone, and none of the four is answered or still held in flight.
    expect(calls.slice(2).map(sessionIds)).toEqual([['d1'], ['d2']]);
    expect(answers.map((answer) => answer[1])).toEqual([50]);
    send(request(54, 'd4'));
    await until(() => calls.length === 5);
    expect(sessionIds(calls[4]!)).toEqual(['d4']);
    calls[4]!.commit();
    await until(() => answers.length === 2);
  });

  it('drops a bad authenticator and a record it cannot read is answered without a write', async () => {
    calls.length = 0;
    answers.length = 0;
    send(request(40, 'wrong', 'another-secret'));
    await settle();
    expect(answers).toHaveLength(0);
    expect(await packetsCounted('bad_authenticator')).toBe(1);

    const noUserName = radius.encode({
      code: 'Accounting-Request',
      identifier: 41,
      secret: SECRET,
      attributes: [
        ['Acct-Status-Type', 'Start'],
        ['Acct-Session-Id', 'nobody'],
      ],
    });
    send(noUserName);
    await until(() => answers.length === 1);
    expect(calls).toHaveLength(0);
    expect(await packetsCounted('refused')).toBe(1);
  });

  it('applies a timeout sweep in each client context through the same queue', async () => {
    calls.length = 0;
    listener.sweep();
    await until(() => calls.length === 1);
    expect(calls[0]!.batches).toEqual([{ tenant, inputs: [{ kind: 'sweep', at: expect.any(Number) }] }]);
    calls[0]!.commit();
  });
});
