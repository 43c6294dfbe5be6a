import { databaseUrl } from '../setup/app.js';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, post, radiusPort, startServer, stopServer } from '../server-process.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// The gateway's accounting listener as a NAS meets it: Debian's own radclient (freeradius-utils,
// which .ci/run installs) sends the packets, and the answers are read over HTTP.

const SECRET = 'radclient-test-secret';
const RADCLIENT = spawnSync('sh', ['-c', 'command -v radclient'], { encoding: 'utf8' }).stdout.trim();

function serverEnv(clients: unknown[]) {
  return {
    DATABASE_URL: databaseUrl,
    NODE_ENV: 'test',
    IPDR_ADMIN_TOKEN: ADMIN_TOKEN,
    RADIUS_ACCOUNTING_PORT: '0',
    RADIUS_CLIENTS: JSON.stringify(clients),
  };
}

interface RadclientRun {
  status: number | null;
  stdout: string;
}

/** Sends one Accounting-Request (attribute lines as radclient reads them), trying once, for 2 s. */
function radclient(port: number, secret: string, attributes: string[]): Promise<RadclientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(RADCLIENT, ['-x', '-r', '1', '-t', '2', `127.0.0.1:${port}`, 'acct', secret], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stdout += chunk));
    child.once('error', reject);
    child.once('exit', (status) => resolve({ status, stdout }));
    child.stdin.end(attributes.join(', ') + '\n');
  });
}

const answered = (run: RadclientRun) => run.status === 0 && /Received Accounting-Response/.test(run.stdout);

// Recent times: the listener's timeout sweep would end sessions last heard of long ago.
const base = Math.floor(Date.now() / 1000) - 600;
const nas = ['NAS-IP-Address = 127.0.0.1', 'NAS-Identifier = "bng-1"'];

function session(user: string, id: string, status: string, at: number, extra: string[] = []) {
  return [
    `User-Name = "${user}"`,
    `Acct-Status-Type = ${status}`,
    `Acct-Session-Id = "${id}"`,
    `Event-Timestamp = ${at}`,
    ...nas,
    ...extra,
  ];
}

let server: RunningServer;
let port: number;

beforeAll(async () => {
  if (!RADCLIENT) throw new Error('radclient is not installed: apt-get install -y freeradius-utils (.ci/run does)');
  server = await startServer(serverEnv([{ address: '127.0.0.1/32', secret: SECRET, context: 'default' }]));
  port = await radiusPort(server);
}, 120_000);
afterAll(async () => {
  if (server) await stopServer(server);
});

async function whoHad(ip: string, at: number) {
  const result = await post(server, ADMIN_TOKEN, `{ whoHad(ip: "${ip}", at: ${at}) { ipsubnet customer { userId } } }`);
  return result.body.data?.whoHad as { ipsubnet: string; customer: { userId: string } } | null;
}

describe('RADIUS accounting from radclient', () => {
  it('writes a session from Start, Interim-Update and Stop, and whoHad answers its customer', async () => {
    const address = ['Framed-IP-Address = 100.64.1.2'];
    expect(answered(await radclient(port, SECRET, session('alice', 's1', 'Start', base, address)))).toBe(true);
    expect(answered(await radclient(port, SECRET, session('alice', 's1', 'Interim-Update', base + 60, address)))).toBe(
      true,
    );
    expect(answered(await radclient(port, SECRET, session('alice', 's1', 'Stop', base + 120, address)))).toBe(true);

    expect(await whoHad('100.64.1.2', base + 90)).toEqual({ ipsubnet: '100.64.1.2', customer: { userId: 'alice' } });
    expect(await whoHad('100.64.1.2', base + 121)).toBeNull();
    const sessions = await post(
      server,
      ADMIN_TOKEN,
      `{ radiusSessions(address: "100.64.1.2") { edges { node { acctSessionId endedAt customer { userId } mappings { ipsubnet starttime endtime } } } } }`,
    );
    expect(sessions.body.data.radiusSessions.edges).toEqual([
      {
        node: {
          acctSessionId: 's1',
          endedAt: base + 120,
          customer: { userId: 'alice' },
          mappings: [{ ipsubnet: '100.64.1.2', starttime: base, endtime: base + 120 }],
        },
      },
    ]);
  });

  it('holds every address of a dual-stack session, once however often the packet comes, until Accounting-On', async () => {
    const dualStack = session('bob', 's2', 'Start', base + 200, [
      'Framed-IP-Address = 100.64.2.3',
      'Framed-IPv6-Prefix = 2001:db8:0:2::/64',
      'Delegated-IPv6-Prefix = 2001:db8:abcd:1200::/56',
      'Framed-IPv6-Address = 2001:db8:0:3::5',
    ]);
    expect(answered(await radclient(port, SECRET, dualStack))).toBe(true);
    // The same record again (a NAS resending it after a lost answer): acknowledged, not written twice.
    expect(answered(await radclient(port, SECRET, dualStack))).toBe(true);

    for (const ip of ['100.64.2.3', '2001:db8:0:2::1', '2001:db8:abcd:12ff::1', '2001:db8:0:3::5']) {
      expect((await whoHad(ip, base + 300))?.customer).toEqual({ userId: 'bob' });
    }
    const mappings = await post(
      server,
      ADMIN_TOKEN,
      `{ mappings(userId: "bob") { totalCount edges { node { ipsubnet } } } }`,
    );
    expect(mappings.body.data.mappings.totalCount).toBe(4);
    expect(
      mappings.body.data.mappings.edges.map((edge: { node: { ipsubnet: string } }) => edge.node.ipsubnet).sort(),
    ).toEqual(['100.64.2.3', '2001:db8:0:2::/64', '2001:db8:0:3::5', '2001:db8:abcd:1200::/56']);

    // The NAS restarted: every session it had open ends.
    const restart = ['Acct-Status-Type = Accounting-On', `Event-Timestamp = ${base + 400}`, ...nas];
    expect(answered(await radclient(port, SECRET, restart))).toBe(true);
    expect(await whoHad('100.64.2.3', base + 300)).toMatchObject({ customer: { userId: 'bob' } });
    expect(await whoHad('100.64.2.3', base + 401)).toBeNull();
  });

  it('does not answer a packet signed with a wrong secret, and writes nothing of it', async () => {
    const run = await radclient(
      port,
      'not-the-secret',
      session('carol', 's3', 'Start', base + 500, ['Framed-IP-Address = 100.64.3.4']),
    );
    expect(answered(run)).toBe(false);
    expect(run.status).not.toBe(0);
    expect(await whoHad('100.64.3.4', base + 501)).toBeNull();
    const carol = await post(server, ADMIN_TOKEN, '{ customers(userId: "carol") { totalCount } }');
    expect(carol.body.data.customers.totalCount).toBe(0);
    const metrics = await (await fetch(server.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/ipdr_radius_packets_total\{outcome="bad_authenticator"\} [1-9]/);
  });

  it('does not answer a source no client covers, and counts it', async () => {
    // radclient sends from the address Packet-Src-IP-Address names (it is not put in the packet):
    // 127.0.0.2 is this host too, but outside the one client, 127.0.0.1/32.
    const run = await radclient(
      port,
      SECRET,
      session('dave', 's4', 'Start', base, ['Framed-IP-Address = 100.64.4.5', 'Packet-Src-IP-Address = 127.0.0.2']),
    );
    expect(run.stdout).toMatch(/from 127\.0\.0\.2:/);
    expect(answered(run)).toBe(false);
    expect(await whoHad('100.64.4.5', base + 1)).toBeNull();
    const metrics = await (await fetch(server.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/ipdr_radius_packets_total\{outcome="unknown_client"\} [1-9]/);
  });

  it('answers radclient’s own packet retransmitted byte for byte from the cache, written once', async () => {
    // The packet as radclient builds it, caught by a socket that never answers.
    const catcher = createSocket('udp4');
    catcher.bind(0, '127.0.0.1');
    await once(catcher, 'listening');
    const caught = once(catcher, 'message') as Promise<[Buffer]>;
    const unanswered = radclient(
      catcher.address().port,
      SECRET,
      session('erin', 's5', 'Start', base + 700, ['Framed-IP-Address = 100.64.5.6']),
    );
    const [packet] = await caught;
    catcher.close();
    expect((await unanswered).status).not.toBe(0);

    // A NAS whose answer was lost sends the same datagram again, from the same port.
    const nasSocket = createSocket('udp4');
    nasSocket.bind(0, '127.0.0.1');
    await once(nasSocket, 'listening');
    try {
      const answers: Buffer[] = [];
      for (let attempt = 0; attempt < 2; attempt++) {
        const answer = once(nasSocket, 'message', { signal: AbortSignal.timeout(10_000) }) as Promise<[Buffer]>;
        nasSocket.send(packet, port, '127.0.0.1');
        answers.push((await answer)[0]);
      }
      expect(answers[0]![0]).toBe(5);
      expect(answers[0]![1]).toBe(packet[1]);
      expect(answers[1]).toEqual(answers[0]);
    } finally {
      nasSocket.close();
    }
    const mappings = await post(server, ADMIN_TOKEN, '{ mappings(userId: "erin") { totalCount } }');
    expect(mappings.body.data.mappings.totalCount).toBe(1);
    const metrics = await (await fetch(server.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/ipdr_radius_packets_total\{outcome="retransmission_answered"\} [1-9]/);
  });
});
