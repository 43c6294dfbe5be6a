import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { parseIpSubnet } from '../../src/domain/ip.js';
import { createLogger } from '../../src/logger.js';
import { type NatSyslogListener, startNatSyslogListener } from '../../src/nat/listener.js';
import type { PortBlockBatch, PortBlockResult } from '../../src/nat/store.js';

// The listener fed by util-linux logger itself over UDP, TCP with LF framing and TCP with octet
// counting, its store replaced by a recorder of the batches it is handed.

const run = promisify(execFile);
const carrier = { id: 1, name: 'carrier' };
const subscribers = { id: 2, name: 'subscribers' };
const silent = createLogger({ NODE_ENV: 'test', LOG_LEVEL: 'silent' });
const EPOCH = 0x624b0492;

type Transport = ['--udp'] | ['--tcp'] | ['--tcp', '--octet-count'];

async function send(port: number, transport: Transport, format: string[], message: string) {
  await run(
    '/usr/bin/logger',
    ['--server', '127.0.0.1', '--port', String(port), ...transport, ...format, '-t', 'RT_NAT', '--', message],
    { timeout: 5_000 },
  );
}

/** Polls until `done` holds, for at most `ms`. */
async function waitFor(done: () => boolean, ms = 5_000) {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function recorder(failFirst = 0) {
  const batches: PortBlockBatch[] = [];
  let calls = 0;
  const apply = async (given: PortBlockBatch[]): Promise<PortBlockResult[]> => {
    calls += 1;
    if (calls <= failFirst) throw new Error('database down');
    batches.push(...given);
    return given.map((batch) => ({
      outcomes: batch.records.map(() => 'applied' as const),
      bindingsChanged: batch.records.length,
      unparsableKept: batch.unparsable.length,
    }));
  };
  return {
    apply,
    batches,
    calls: () => calls,
    records: () => batches.flatMap((batch) => batch.records),
    unparsable: () => batches.flatMap((batch) => batch.unparsable),
  };
}

async function counts(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('ipdr_nat_syslog_messages_total')!.get();
  return Object.fromEntries(metric.values.map((value) => [String(value.labels.outcome), value.value]));
}

const listeners: NatSyslogListener[] = [];
afterEach(async () => {
  for (const listener of listeners.splice(0)) await listener.stop();
});

async function start(
  sourceNetwork: string,
  apply: ReturnType<typeof recorder>['apply'],
  registry: Registry,
  extra = {},
) {
  const listener = await startNatSyslogListener({
    host: '127.0.0.1',
    port: 0,
    sources: [{ address: parseIpSubnet(sourceNetwork), tenant: carrier, insideTenant: subscribers }],
    timeZone: 'UTC',
    apply,
    batchSize: 100,
    queueLimit: 1000,
    logger: silent,
    registry,
    retryDelayMs: 50,
    ...extra,
  });
  listeners.push(listener);
  return listener;
}

const structuredParams = (kind: string, low: number) => [
  '--msgid',
  `RT_SRC_NAT_PBA_${kind}`,
  '--sd-id',
  'junos@2636.1.1.1.2.129',
  ...[
    'internal-ip="10.0.10.10"',
    'block-used="1"',
    'block-max-per-host="4"',
    `block-port-low="${low}"`,
    `block-port-high="${low + 255}"`,
    'reflexive-ip="198.51.100.172"',
    'nat-pool-name="guest"',
    'logical-system-id="0"',
    `epoch-time-64="${EPOCH.toString(16)}"`,
  ].flatMap((param) => ['--sd-param', param]),
];
const structuredBody = (kind: string, low: number) =>
  `RT_SRC_NAT_PBA_${kind} [junos@2636.1.1.1.2.129 internal-ip="10.0.20.20" block-used="1" block-max-per-host="4" ` +
  `block-port-low="${low}" block-port-high="${low + 255}" reflexive-ip="198.51.100.173" nat-pool-name="guest" ` +
  `logical-system-id="0" epoch-time-64="${(EPOCH + 60).toString(16)}"]`;
const brief = (verb: string, kind: string, low: number) =>
  `RT_SRC_NAT_PBA_${kind}: Subscriber 100.64.60.74 used/maximum [1/4] blocks, ${verb} port block ` +
  `[${low}-${low + 127}] from 203.0.113.100 in source pool pool1 lsn-pool lsn1`;

describe('NAT syslog listener', () => {
  it.each<[string, Transport]>([
    ['UDP', ['--udp']],
    ['TCP, LF framing', ['--tcp']],
    ['TCP, octet counting', ['--tcp', '--octet-count']],
  ])('takes Juniper port-block lines over %s', async (_name, transport) => {
    const registry = new Registry();
    const store = recorder();
    const { port } = await start('127.0.0.0/8', store.apply, registry);
    const sentAt = Math.floor(Date.now() / 1000);

    // The structured form split as Junos sends it over RFC 5424: tag as MSGID, parameters as the SD element.
    await send(port, transport, ['--rfc5424=notq', ...structuredParams('ALLOC', 48640)], 'x');
    // The structured form in the body of an RFC 3164 message.
    await send(port, transport, ['--rfc3164'], structuredBody('RELEASE', 1024));
    // The brief form, timed by the syslog header, in both formats.
    await send(port, transport, ['--rfc5424=notq'], brief('interim', 'INTERIM', 24064));
    await send(port, transport, ['--rfc3164'], brief('allocates', 'ALLOC', 30000));
    // A port-block line that does not read, and a line of another kind.
    await send(
      port,
      transport,
      ['--rfc3164'],
      brief('allocates', 'ALLOC', 30000).replace('100.64.60.74', '100.64.60.300'),
    );
    await send(port, transport, ['--rfc3164'], 'RT_FLOW_SESSION_CREATE: session created 10.0.0.1/1->192.0.2.1/2');

    await waitFor(() => store.records().length === 4 && store.unparsable().length === 1);
    const records = store.records();
    expect(store.batches.every((batch) => batch.tenant === carrier && batch.insideTenant === subscribers)).toBe(true);
    expect(records.map((record) => [record.event.kind, record.event.portFirst, record.event.portLast])).toEqual([
      ['ALLOC', 48640, 48895],
      ['RELEASE', 1024, 1279],
      ['INTERIM', 24064, 24191],
      ['ALLOC', 30000, 30127],
    ]);
    expect(records.map((record) => [record.event.insideAddress.text, record.event.publicAddress.text])).toEqual([
      ['10.0.10.10', '198.51.100.172'],
      ['10.0.20.20', '198.51.100.173'],
      ['100.64.60.74', '203.0.113.100'],
      ['100.64.60.74', '203.0.113.100'],
    ]);
    // epoch-time-64 times the structured lines; the header (logger's clock, now) the brief ones.
    expect(records[0]!.event.at).toBe(EPOCH);
    expect(records[1]!.event.at).toBe(EPOCH + 60);
    for (const record of records.slice(2)) {
      expect(record.event.at).toBeGreaterThanOrEqual(sentAt - 2);
      expect(record.event.at).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 2);
    }
    for (const record of records) {
      expect(record.source).toBe('SYSLOG');
      expect(record.device).toBe('127.0.0.1');
      expect(record.rawLine).toMatch(/^<13>/);
      expect(record.rawLine).not.toMatch(/\n$/);
    }
    expect(records[0]!.rawLine).toContain(
      'RT_NAT - RT_SRC_NAT_PBA_ALLOC [junos@2636.1.1.1.2.129 internal-ip="10.0.10.10"',
    );
    expect(records[3]!.rawLine).toContain(brief('allocates', 'ALLOC', 30000));

    const [unparsable] = store.unparsable();
    expect(unparsable).toMatchObject({ source: 'SYSLOG', device: '127.0.0.1' });
    expect(unparsable!.line).toContain('100.64.60.300');
    expect(unparsable!.reason).toMatch(/100\.64\.60\.300/);
    expect(Math.abs(unparsable!.receivedAt - Date.now() / 1000)).toBeLessThan(10);

    // The line of another kind was sent last: over TCP it may still be on its way.
    const until = Date.now() + 5_000;
    while ((await counts(registry)).ignored !== 1 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await counts(registry)).toMatchObject({ applied: 4, unparsable: 1, ignored: 1 });
  });

  it('takes Cisco IOS XR CGN bulk port allocation records (UserbasedA/UserbasedW), timed by the header', async () => {
    const registry = new Registry();
    const store = recorder();
    const { port } = await start('127.0.0.0/8', store.apply, registry);
    const sentAt = Math.floor(Date.now() / 1000);
    // The layout of Cisco's CGN configuration guide (see nat-log.ts), its example's values.
    const alloc = '[UserbasedA - 10.0.0.1 Broadband - 100.1.1.1 - 2048 3071 - -]';
    await send(port, ['--udp'], ['--rfc5424=notq'], alloc);
    await send(port, ['--udp'], ['--rfc3164'], alloc.replace('UserbasedA', 'UserbasedW'));
    await waitFor(() => store.records().length === 2);
    const records = store.records();
    expect(records.map((record) => record.event.kind)).toEqual(['ALLOC', 'RELEASE']);
    for (const record of records) {
      expect(record.event).toMatchObject({ portFirst: 2048, portLast: 3071 });
      expect(record.event.insideAddress.text).toBe('10.0.0.1');
      expect(record.event.publicAddress.text).toBe('100.1.1.1');
      expect(record.event.at).toBeGreaterThanOrEqual(sentAt - 2);
      expect(record.event.at).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 2);
      expect(record).toMatchObject({ source: 'SYSLOG', device: '127.0.0.1' });
    }
    expect(records[0]!.rawLine).toContain(alloc);
    expect(await counts(registry)).toEqual({ applied: 2 });
  });

  it('counts and drops lines from a sender no source covers', async () => {
    const registry = new Registry();
    const store = recorder();
    const { port } = await start('10.0.0.0/8', store.apply, registry);
    await send(port, ['--udp'], ['--rfc3164'], brief('allocates', 'ALLOC', 30000));
    await send(port, ['--tcp'], ['--rfc3164'], brief('allocates', 'ALLOC', 30000));
    const until = Date.now() + 5_000;
    while ((await counts(registry)).refused_source !== 2 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await counts(registry)).toEqual({ refused_source: 2 });
    expect(store.calls()).toBe(0);
  });

  it('keeps a group whose apply failed and applies it on a later try', async () => {
    const registry = new Registry();
    const store = recorder(2);
    const { port } = await start('127.0.0.1/32', store.apply, registry);
    await send(port, ['--udp'], ['--rfc3164'], brief('allocates', 'ALLOC', 30000));
    await waitFor(() => store.records().length === 1);
    expect(store.calls()).toBe(3);
    expect(store.records()[0]!.event.kind).toBe('ALLOC');
    expect(await counts(registry)).toEqual({ applied: 1 });
  });

  it('applies what it has taken in before stop() resolves', async () => {
    const registry = new Registry();
    const store = recorder();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const slowApply = async (batches: PortBlockBatch[]) => {
      await held;
      return store.apply(batches);
    };
    const listener = await start('127.0.0.1/32', slowApply, registry);
    listeners.pop();
    await send(listener.port, ['--tcp'], ['--rfc3164'], brief('allocates', 'ALLOC', 30000));
    // The first line is being applied (held); the next waits in the queue behind it.
    const first = Date.now();
    while (store.calls() === 0 && Date.now() - first < 300) await new Promise((resolve) => setTimeout(resolve, 20));
    await send(listener.port, ['--udp'], ['--rfc3164'], brief('releases', 'RELEASE', 30000));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stopped = listener.stop();
    release();
    await Promise.race([stopped, new Promise((_, reject) => setTimeout(() => reject(new Error('stop hung')), 5_000))]);
    expect(store.records().map((record) => record.event.kind)).toEqual(['ALLOC', 'RELEASE']);
  });
});
