import { type RemoteInfo, type Socket as UdpSocket, createSocket } from 'node:dgram';
import { once } from 'node:events';
import { type Server, type Socket as TcpSocket, createServer } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import type { Tenant } from '../access/types.js';
import type { IpSubnet } from '../domain/ip.js';
import { readPortBlockMessage } from '../domain/nat-syslog.js';
import { OctetFramedReader } from '../domain/syslog.js';
import type { Logger } from '../logger.js';
import { createClientLookup } from '../radius/clients.js';
import type { PortBlockBatch, PortBlockRecord, PortBlockResult, UnparsableLine } from './store.js';

// A syslog receiver for a CGNAT's port-block log (UDP and TCP on one port). Syslog has no receipt:
// a line taken in is kept in the queue until its transaction commits, retried while the store
// fails, so that what a device sent once is not lost to a database restart. Lines that arrive
// while a transaction runs wait for the next one, which applies them all (a group commit).

/** A device allowed to send port-block logs: where it sends from, the contexts its addresses are in. */
export interface NatSyslogSource {
  address: IpSubnet;
  /** The context of the public addresses (the bindings). */
  tenant: Tenant;
  /** The context in which the inside addresses are looked up. */
  insideTenant: Tenant;
}

export interface NatSyslogListenerOptions {
  host: string;
  /** 0: a port free for both UDP and TCP (the one bound is in the result and the log). */
  port: number;
  sources: readonly NatSyslogSource[];
  /** IANA zone of the RFC 3164 senders' clocks (their messages carry none). */
  timeZone: string;
  /** Writes the batches in one transaction; resolves once committed (nat/store.ts applyPortBlocks). */
  apply(batches: PortBlockBatch[]): Promise<PortBlockResult[]>;
  /** Lines applied in one transaction at most. */
  batchSize: number;
  /** Lines waiting at most; past it UDP datagrams are dropped and TCP senders paused. */
  queueLimit: number;
  logger: Logger;
  registry: Registry;
  /** Unix seconds now (tests move it). */
  now?: () => number;
  /** The first wait before an apply that failed is tried again (doubling up to MAX_RETRY_DELAY_MS). */
  retryDelayMs?: number;
}

export interface NatSyslogListener {
  port: number;
  /** Stops receiving, applies what has been taken in, then closes the sockets. */
  stop(): Promise<void>;
}

interface Queued {
  source: NatSyslogSource;
  record: PortBlockRecord | null;
  unparsable: UnparsableLine | null;
}

/** The largest message a TCP frame may carry (Junos' structured lines are well under 1 KiB). */
export const MAX_SYSLOG_MESSAGE_BYTES = 8 * 1024;
/** TCP connections open at once at most; a further one is closed as it arrives. */
export const MAX_SYSLOG_CONNECTIONS = 256;
const DEFAULT_RETRY_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 30_000;
// One warning per kind of dropped line per this many milliseconds: a misconfigured device sends many.
const WARNING_INTERVAL_MS = 10_000;
// How many times port 0 is tried for a UDP port whose TCP twin is also free.
const PORT_PICK_ATTEMPTS = 20;

export type NatSyslogOutcome =
  | 'applied'
  | 'duplicate'
  | 'stale'
  | 'unmatched'
  | 'conflict'
  | 'ignored'
  | 'unparsable'
  | 'refused_source'
  | 'dropped'
  | 'failed';

/** IPv4-mapped IPv6 (a dual-stack socket's view of an IPv4 sender) as the IPv4 address it is. */
function senderAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

export async function startNatSyslogListener(options: NatSyslogListenerOptions): Promise<NatSyslogListener> {
  const { logger, batchSize, queueLimit, timeZone } = options;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const firstRetryDelay = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  const messages = new Counter({
    name: 'ipdr_nat_syslog_messages_total',
    help: 'NAT syslog messages received, by what became of them',
    labelNames: ['outcome'] as const,
    registers: [options.registry],
  });
  const count = (outcome: NatSyslogOutcome, by = 1) => messages.inc({ outcome }, by);
  const sourceOf = createClientLookup(options.sources);

  const queue: Queued[] = [];
  const connections = new Set<TcpSocket>();
  let paused = false;
  let draining: Promise<void> | null = null;
  let stopping = false;
  let failing = false;
  let retryTimer: NodeJS.Timeout | null = null;
  let wakeRetry: (() => void) | null = null;
  const lastWarning = new Map<string, number>();

  function warn(kind: string, details: Record<string, unknown>, message: string) {
    const at = Date.now();
    if ((lastWarning.get(kind) ?? -Infinity) > at - WARNING_INTERVAL_MS) return;
    lastWarning.set(kind, at);
    logger.warn({ outcome: kind, ...details }, message);
  }

  /** Takes one message in; false when the queue is full (the caller drops or pauses). */
  function takeIn(text: string, from: string, transport: 'udp' | 'tcp'): void {
    const device = senderAddress(from);
    const source = sourceOf(device);
    if (!source) {
      count('refused_source');
      return warn('refused_source', { from: device }, 'NAT syslog message from an address no source covers, dropped');
    }
    if (transport === 'udp' && queue.length >= queueLimit) {
      count('dropped');
      return warn('dropped', { queued: queue.length }, 'NAT syslog queue full, UDP message dropped');
    }
    const receivedAt = now();
    const keep = (reason: string) => {
      count('unparsable');
      warn('unparsable', { from: device, reason }, 'NAT syslog message unparsable, kept for review');
      queue.push({
        source,
        record: null,
        unparsable: { source: 'SYSLOG', device, receivedAt, line: text, reason },
      });
    };
    const reading = readPortBlockMessage(text, { timeZone, receivedAt });
    if ('ignored' in reading) return void count('ignored');
    if ('unparsable' in reading) return keep(reading.unparsable);
    queue.push({
      source,
      unparsable: null,
      record: {
        event: reading.event,
        source: 'SYSLOG',
        device,
        rawLine: text.replace(/(?:\r?\n|\0)$/, ''),
      },
    });
  }

  function receive(text: string, from: string, transport: 'udp' | 'tcp') {
    if (stopping) return;
    try {
      takeIn(text, from, transport);
    } catch (error) {
      // A fault of this code, not of the device: the line is lost, the listener keeps serving the others.
      count('failed');
      warn('failed', { from, err: error }, 'NAT syslog message not handled');
    }
    if (queue.length >= queueLimit) pauseTcp();
    drain();
  }

  function pauseTcp() {
    if (paused) return;
    paused = true;
    for (const connection of connections) connection.pause();
    warn('paused', { queued: queue.length }, 'NAT syslog queue full, TCP senders paused');
  }

  function resumeTcp() {
    if (!paused || queue.length >= queueLimit) return;
    paused = false;
    for (const connection of connections) connection.resume();
  }

  /** Groups lines by (context, inside context), in arrival order within each. */
  function batchesOf(group: readonly Queued[]): { batches: PortBlockBatch[]; records: PortBlockRecord[][] } {
    const byContexts = new Map<string, PortBlockBatch>();
    for (const item of group) {
      const key = `${item.source.tenant.id}|${item.source.insideTenant.id}`;
      let batch = byContexts.get(key);
      if (!batch) {
        batch = { tenant: item.source.tenant, insideTenant: item.source.insideTenant, records: [], unparsable: [] };
        byContexts.set(key, batch);
      }
      if (item.record) batch.records.push(item.record);
      if (item.unparsable) batch.unparsable.push(item.unparsable);
    }
    const batches = [...byContexts.values()];
    return { batches, records: batches.map((batch) => batch.records) };
  }

  /** Waits before a retry; a stop cuts the wait short. */
  function backoff(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      wakeRetry = resolve;
      retryTimer = setTimeout(resolve, ms);
    }).then(() => {
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      wakeRetry = null;
    });
  }

  /** Applies one group, retrying while the store fails (once stopping, one more try only). */
  async function applyGroup(group: Queued[]): Promise<void> {
    const { batches } = batchesOf(group);
    let delay = firstRetryDelay;
    for (;;) {
      let results: PortBlockResult[];
      try {
        results = await options.apply(batches);
      } catch (error) {
        if (!failing) logger.error({ err: error }, 'NAT port blocks not written; retrying until they are');
        else warn('apply_failed', { err: error, retryInMs: delay }, 'NAT port blocks still not written');
        failing = true;
        if (stopping) {
          count('failed', group.length);
          logger.error({ lines: group.length }, 'NAT syslog lines not written at stop, lost');
          return;
        }
        await backoff(delay);
        delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
        continue;
      }
      if (failing) logger.info('NAT port blocks written again');
      failing = false;
      for (const result of results) for (const outcome of result.outcomes) count(outcome);
      return;
    }
  }

  function drain() {
    // With nothing queued the body would finish before `draining` is assigned, leaving it set for good.
    if (draining || queue.length === 0) return;
    draining = (async () => {
      try {
        while (queue.length > 0) {
          await applyGroup(queue.splice(0, batchSize));
          resumeTcp();
        }
      } finally {
        draining = null;
      }
    })();
  }

  function accept(connection: TcpSocket) {
    if (stopping || connections.size >= MAX_SYSLOG_CONNECTIONS) {
      warn('connection_refused', { open: connections.size }, 'NAT syslog TCP connection closed: too many open');
      connection.destroy();
      return;
    }
    connections.add(connection);
    if (paused) connection.pause();
    const from = connection.remoteAddress ?? '';
    const reader = new OctetFramedReader(MAX_SYSLOG_MESSAGE_BYTES);
    connection.on('data', (chunk: Buffer) => {
      for (const reading of reader.push(chunk)) {
        if ('error' in reading) {
          count('unparsable');
          warn('framing', { from, ...reading.error }, 'NAT syslog TCP frame unreadable, skipped');
        } else receive(reading.message.toString('utf8'), from, 'tcp');
      }
    });
    connection.on('error', (error) => warn('connection_error', { from, err: error.message }, 'NAT syslog TCP error'));
    connection.on('close', () => connections.delete(connection));
  }

  const makeUdp = (): UdpSocket => {
    const socket = createSocket({ type: options.host.includes(':') ? 'udp6' : 'udp4' });
    socket.on('message', (datagram: Buffer, from: RemoteInfo) =>
      receive(datagram.toString('utf8'), from.address, 'udp'),
    );
    socket.on('error', (error) => logger.error({ err: error }, 'NAT syslog UDP socket error'));
    return socket;
  };
  const tcp: Server = createServer(accept);
  tcp.on('error', (error) => logger.error({ err: error }, 'NAT syslog TCP server error'));
  const { udp, port } = await bindBoth(makeUdp, tcp, options.host, options.port);
  logger.info({ port, sources: options.sources.length }, 'NAT syslog listening (UDP and TCP)');

  return {
    port,
    async stop() {
      stopping = true;
      // Listened for before closing: a socket may emit 'close' while the queue drains.
      const closed = Promise.all([once(udp, 'close'), new Promise<void>((resolve) => tcp.close(() => resolve()))]);
      for (const connection of connections) connection.pause();
      udp.close();
      wakeRetry?.();
      while (draining) await draining;
      for (const connection of connections) connection.destroy();
      await closed;
    },
  };
}

/** Binds UDP then TCP on one port; port 0 is tried again until a UDP port's TCP twin is free too. */
async function bindBoth(
  makeUdp: () => UdpSocket,
  tcp: Server,
  host: string,
  requested: number,
): Promise<{ udp: UdpSocket; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = makeUdp();
    udp.bind(requested, host);
    await once(udp, 'listening');
    const { port } = udp.address();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, host, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return { udp, port };
    } catch (error) {
      udp.close();
      const taken = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (requested !== 0 || !taken || attempt >= PORT_PICK_ATTEMPTS) throw error;
    }
  }
}
