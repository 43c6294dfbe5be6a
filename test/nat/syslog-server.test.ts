import { databaseUrl } from '../setup/app.js';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, listenerPort, post, radiusPort, startServer, stopServer } from '../server-process.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// The server as a CGNAT and a BNG meet it: util-linux logger sends the NAT's port-block lines over
// UDP and TCP, FreeRADIUS's radclient a subscriber's session, and whoHad(ip, port, at) is asked
// over HTTP, from the public address and port to the customer behind it.

const run = promisify(execFile);
const SECRET = 'nat-syslog-test-secret';
const RADCLIENT = spawnSync('sh', ['-c', 'command -v radclient'], { encoding: 'utf8' }).stdout.trim();
const PUBLIC = '203.0.113.50';
const now = () => Math.floor(Date.now() / 1000);

let server: RunningServer;
let syslogPort: number;
let radius: number;

type Transport = ['--udp'] | ['--tcp'] | ['--tcp', '--octet-count'];

/** One line from util-linux logger, RFC 5424 (its header carries the zone), tagged as Junos tags it. */
async function send(transport: Transport, message: string, extra: string[] = []) {
  await run(
    '/usr/bin/logger',
    [
      '--server',
      '127.0.0.1',
      '--port',
      String(syslogPort),
      ...transport,
      '--rfc5424=notq',
      ...extra,
      '-t',
      'RT_NAT',
      '--',
      message,
    ],
    { timeout: 5_000 },
  );
}

const brief = (kind: 'ALLOC' | 'RELEASE', inside: string, low: number, high: number) =>
  `RT_SRC_NAT_PBA_${kind}: Subscriber ${inside} used/maximum [1/4] blocks, ${kind === 'ALLOC' ? 'allocates' : 'releases'} ` +
  `port block [${low}-${high}] from ${PUBLIC} in source pool pool1 lsn-pool lsn1`;

function radclient(attributes: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(RADCLIENT, ['-r', '1', '-t', '2', `127.0.0.1:${radius}`, 'acct', SECRET], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.once('error', reject);
    child.once('exit', resolve);
    child.stdin.end(attributes.join(', ') + '\n');
  });
}

const ANSWER = 'ipsubnet customer { userId } nat { kind publicAddress port portFirst portLast insideAddress source }';

async function whoHad(ip: string, port: number | null, at: number) {
  const portArgument = port === null ? '' : `, port: ${port}`;
  return post(server, ADMIN_TOKEN, `{ whoHad(ip: "${ip}"${portArgument}, at: ${at}) { ${ANSWER} } }`);
}

/** Asks until the answer has a customer (the lines are applied a moment after logger exits), for 10 s. */
async function customerBehind(ip: string, port: number, at: number) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answer = (await whoHad(ip, port, at)).body.data?.whoHad;
    if (answer?.customer || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  if (!RADCLIENT) throw new Error('radclient is not installed: apt-get install -y freeradius-utils (.ci/run does)');
  server = await startServer({
    DATABASE_URL: databaseUrl,
    NODE_ENV: 'test',
    IPDR_ADMIN_TOKEN: ADMIN_TOKEN,
    NAT_SYSLOG_PORT: '0',
    NAT_SYSLOG_SOURCES: JSON.stringify([{ address: '127.0.0.1', context: 'default' }]),
    RADIUS_ACCOUNTING_PORT: '0',
    RADIUS_CLIENTS: JSON.stringify([{ address: '127.0.0.1/32', secret: SECRET, context: 'default' }]),
  });
  syslogPort = await listenerPort(server, 'NAT syslog listening (UDP and TCP)');
  radius = await radiusPort(server);
}, 120_000);
afterAll(async () => {
  if (server) await stopServer(server);
});

describe('NAT syslog into the server, answered by whoHad over HTTP', () => {
  it('follows a public address and port to a static mapping and to a RADIUS session', async () => {
    const customer = await post(
      server,
      ADMIN_TOKEN,
      `mutation { createCustomer(input: { userId: "static-sub", name: "Static" }) { __typename } }`,
    );
    expect(customer.body.data.createCustomer.__typename).toBe('Customer');
    const mapping = await post(
      server,
      ADMIN_TOKEN,
      `mutation { createMapping(input: { userId: "static-sub", ipsubnet: "100.64.9.10", starttime: ${now() - 3600} }) { __typename } }`,
    );
    expect(mapping.body.data.createMapping.__typename).toBe('IpMapping');
    const sessionStart = now() - 600;
    const start = [
      'User-Name = "radius-sub"',
      'Acct-Status-Type = Start',
      'Acct-Session-Id = "nat-s1"',
      `Event-Timestamp = ${sessionStart}`,
      'NAS-IP-Address = 127.0.0.1',
      'Framed-IP-Address = 100.64.9.11',
    ];
    expect(await radclient(start)).toBe(0);

    const allocatedAt = now();
    // The brief form over UDP, timed by logger's header; the structured form over TCP with octet
    // counting, split as Junos sends it (tag as MSGID, parameters as the SD element) and timed by
    // its epoch-time-64.
    await send(['--udp'], brief('ALLOC', '100.64.9.10', 1024, 1279));
    const epoch = sessionStart + 60;
    const params = [
      'internal-ip="100.64.9.11"',
      'block-used="1"',
      'block-max-per-host="4"',
      'block-port-low="1280"',
      'block-port-high="1535"',
      `reflexive-ip="${PUBLIC}"`,
      'nat-pool-name="pool1"',
      'logical-system-id="0"',
      `epoch-time-64="${epoch.toString(16)}"`,
    ];
    await send(['--tcp', '--octet-count'], 'x', [
      '--msgid',
      'RT_SRC_NAT_PBA_ALLOC',
      '--sd-id',
      'junos@2636.1.1.1.2.129',
      ...params.flatMap((param) => ['--sd-param', param]),
    ]);

    const later = now() + 2;
    expect(await customerBehind(PUBLIC, 1100, later)).toEqual({
      ipsubnet: '100.64.9.10',
      customer: { userId: 'static-sub' },
      nat: {
        kind: 'binding',
        publicAddress: PUBLIC,
        port: 1100,
        portFirst: 1024,
        portLast: 1279,
        insideAddress: '100.64.9.10',
        source: 'SYSLOG',
      },
    });
    expect(await customerBehind(PUBLIC, 1535, epoch)).toMatchObject({
      ipsubnet: '100.64.9.11',
      customer: { userId: 'radius-sub' },
      nat: { portFirst: 1280, portLast: 1535, insideAddress: '100.64.9.11' },
    });
    // Before its block was allocated, a port was nobody's; a port outside every block is nobody's.
    expect((await whoHad(PUBLIC, 1535, epoch - 1)).body.data.whoHad).toBeNull();
    expect((await whoHad(PUBLIC, 40000, later)).body.data.whoHad).toBeNull();
    // Without a port the public address has no single holder: the field is named.
    const portless = await whoHad(PUBLIC, null, later);
    expect(portless.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'port' } });
    expect(portless.body.errors?.[0].message).toMatch(/port/);

    // The first block released over TCP with LF framing: its port is nobody's afterwards.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await send(['--tcp'], brief('RELEASE', '100.64.9.10', 1024, 1279));
    const afterRelease = now() + 2;
    const deadline = Date.now() + 10_000;
    let released = (await whoHad(PUBLIC, 1100, afterRelease)).body.data.whoHad;
    while (released !== null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      released = (await whoHad(PUBLIC, 1100, afterRelease)).body.data.whoHad;
    }
    expect(released).toBeNull();
    expect((await whoHad(PUBLIC, 1100, allocatedAt + 1)).body.data.whoHad?.customer).toEqual({ userId: 'static-sub' });

    const metrics = await (await fetch(server.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/ipdr_nat_syslog_messages_total\{outcome="applied"\} 3/);
  });
});
