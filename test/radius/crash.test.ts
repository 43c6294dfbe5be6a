import { databaseUrl } from '../setup/app.js';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import radius from 'radius';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRadiusDictionaries } from '../../src/radius/codec.js';
import { type RunningServer, post, radiusPort, startServer, stopServer } from '../server-process.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';
import { newDataDir } from '../setup/data-dir.js';

// A server killed once a request's effect has committed but before the NAS has its answer: the NAS
// retransmits the same datagram to the restarted server, which must answer it without writing again.

const SECRET = 'crash-test-secret';
// The same data across the restart: this file's PostgreSQL database, or an embedded data directory.
const dataDir = databaseUrl ? undefined : newDataDir('ipdr-radius-crash');
afterAll(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const serverEnv = {
  ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATA_DIR: dataDir }),
  NODE_ENV: 'test',
  IPDR_ADMIN_TOKEN: ADMIN_TOKEN,
  RADIUS_ACCOUNTING_PORT: '0',
  RADIUS_CLIENTS: JSON.stringify([{ address: '127.0.0.1/32', secret: SECRET, context: 'default' }]),
};

const startedAt = Math.floor(Date.now() / 1000) - 60;

function startRequest(): Buffer {
  loadRadiusDictionaries();
  return radius.encode({
    code: 'Accounting-Request',
    identifier: 42,
    secret: SECRET,
    attributes: [
      ['User-Name', 'frank'],
      ['Acct-Status-Type', 'Start'],
      ['Acct-Session-Id', 'crash-1'],
      ['NAS-IP-Address', '127.0.0.1'],
      ['Framed-IP-Address', '100.64.9.9'],
      ['Event-Timestamp', new Date(startedAt * 1000)],
    ],
  });
}

async function holder(server: RunningServer): Promise<string | null> {
  const result = await post(
    server,
    ADMIN_TOKEN,
    `{ whoHad(ip: "100.64.9.9", at: ${startedAt}) { customer { userId } } }`,
  );
  return result.body.data?.whoHad?.customer.userId ?? null;
}

describe('a server killed between commit and answer', () => {
  it('answers the retransmitted request after a restart, and the session is written once', async () => {
    const request = startRequest();
    // The NAS: one socket, so that the retransmission comes from the same address and port.
    const nas = createSocket('udp4');
    nas.bind(0, '127.0.0.1');
    await once(nas, 'listening');
    let first: RunningServer | undefined;
    let second: RunningServer | undefined;
    try {
      first = await startServer(serverEnv);
      // Its answer is never read: as far as the NAS knows, it was lost.
      nas.send(request, await radiusPort(first), '127.0.0.1');
      const deadline = Date.now() + 20_000;
      while ((await holder(first)) !== 'frank') {
        if (Date.now() > deadline) throw new Error(`the Start was never written:\n${first.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const killed = once(first.process, 'exit');
      first.process.kill('SIGKILL');
      await killed;

      second = await startServer(serverEnv);
      nas.removeAllListeners('message');
      const answered = once(nas, 'message', { signal: AbortSignal.timeout(15_000) }) as Promise<[Buffer]>;
      nas.send(request, await radiusPort(second), '127.0.0.1');
      const [response] = await answered;
      expect(response[0]).toBe(5);
      expect(response[1]).toBe(42);
      expect(radius.verify_response({ request, response, secret: SECRET })).toBe(true);

      expect(await holder(second)).toBe('frank');
      const written = await post(
        second,
        ADMIN_TOKEN,
        `{ mappings(userId: "frank") { totalCount edges { node { ipsubnet starttime endtime } } }
           mappingAudit: auditEvents(entityType: "mapping") { totalCount edges { node { action channel } } }
           customerAudit: auditEvents(entityType: "customer") { totalCount } }`,
      );
      expect(written.body.data).toEqual({
        mappings: { totalCount: 1, edges: [{ node: { ipsubnet: '100.64.9.9', starttime: startedAt, endtime: null } }] },
        mappingAudit: { totalCount: 1, edges: [{ node: { action: 'create', channel: 'radius' } }] },
        customerAudit: { totalCount: 1 },
      });
      const metrics = await (await fetch(second.url.replace('/graphql', '/metrics'))).text();
      expect(metrics).toMatch(/ipdr_radius_events_total\{outcome="duplicate"\} 1\b/);
    } finally {
      nas.close();
      if (first && first.process.exitCode === null && first.process.signalCode === null) first.process.kill('SIGKILL');
      if (second) await stopServer(second);
    }
  });
});
