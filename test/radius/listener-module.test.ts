import { createTestApp } from '../setup/app.js';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import radius from 'radius';
import { describe, expect, it } from 'vitest';
import { loadRadiusDictionaries } from '../../src/radius/codec.js';
import { RadiusClientContextError, radiusAccountingModule } from '../../src/radius/module.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// The accounting module as main starts it, in this process on the file's database (either
// engine), with the real store: what it refuses at start, what it writes, and what a stop answers.

const SECRET = 'module-test-secret';

/** A UDP port free a moment ago (the module does not report the one it binds). */
async function freePort(): Promise<number> {
  const probe = createSocket('udp4');
  probe.bind(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  return port;
}

function appOn(port: number, context = 'default') {
  return createTestApp({
    HOST: '127.0.0.1',
    RADIUS_ACCOUNTING_PORT: String(port),
    RADIUS_CLIENTS: JSON.stringify([{ address: '127.0.0.1', secret: SECRET, context }]),
  });
}

const now = Math.floor(Date.now() / 1000);

function start(user: string, session: string, ipv4: string, identifier: number): Buffer {
  loadRadiusDictionaries();
  return radius.encode({
    code: 'Accounting-Request',
    identifier,
    secret: SECRET,
    attributes: [
      ['User-Name', user],
      ['Acct-Status-Type', 'Start'],
      ['Acct-Session-Id', session],
      ['NAS-IP-Address', '127.0.0.1'],
      ['Framed-IP-Address', ipv4],
      ['Event-Timestamp', new Date((now - 60) * 1000)],
    ],
  });
}

async function holderOf(app: ReturnType<typeof createTestApp>, ip: string): Promise<string | null> {
  const response = await app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ query: `{ whoHad(ip: "${ip}", at: ${now - 30}) { customer { userId } } }` }),
  });
  const body = (await response.json()) as { data: { whoHad: { customer: { userId: string } } | null } };
  return body.data.whoHad?.customer.userId ?? null;
}

async function accepted(app: ReturnType<typeof createTestApp>): Promise<number> {
  const counted = await app.operations.metrics.registry.getSingleMetric('ipdr_radius_packets_total')?.get();
  return counted?.values.find((value) => value.labels.outcome === 'accepted')?.value ?? 0;
}

describe('the RADIUS accounting module', () => {
  it('starts nothing without RADIUS_ACCOUNTING_PORT', async () => {
    const running = await radiusAccountingModule.start(createTestApp());
    await running.stop();
  });

  it('refuses to start for a client whose context does not exist, naming it in one line', async () => {
    const refused = radiusAccountingModule.start(appOn(await freePort(), 'isp-9'));
    await expect(refused).rejects.toThrow(RadiusClientContextError);
    await expect(refused).rejects.toThrow(/^RADIUS_CLIENTS: context "isp-9" does not exist[^\n]*$/);
  });

  it('writes what it answers, and answers at stop every request it took in', async () => {
    const port = await freePort();
    const app = appOn(port);
    const running = await radiusAccountingModule.start(app);
    const nas = createSocket('udp4');
    nas.bind(0, '127.0.0.1');
    await once(nas, 'listening');
    const answered = new Set<number>();
    nas.on('message', (message) => answered.add(message[1]!));
    try {
      nas.send(start('grace', 'm1', '100.64.7.1', 1), port, '127.0.0.1');
      for (const started = Date.now(); !answered.has(1);) {
        if (Date.now() - started > 10_000) throw new Error('no answer to the first Start');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(await holderOf(app, '100.64.7.1')).toBe('grace');

      // A burst, then a stop as soon as the listener has taken all of it in: groups are then
      // still in flight or waiting, and a stop must answer them before it closes the socket.
      for (let index = 0; index < 40; index++) {
        nas.send(start(`user-${index}`, `burst-${index}`, `100.64.8.${index + 1}`, 10 + index), port, '127.0.0.1');
      }
      for (const started = Date.now(); (await accepted(app)) < 41;) {
        if (Date.now() - started > 10_000) throw new Error('the burst was not taken in');
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await running.stop();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(answered.size).toBe(41);
      const written = await app.db.prisma.ipMapping.count({ where: { userId: { startsWith: 'user-' } } });
      expect(written).toBe(40);
    } finally {
      nas.close();
    }
  });
});
