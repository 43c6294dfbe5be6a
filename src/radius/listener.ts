import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import { once } from 'node:events';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Tenant } from '../access/types.js';
import { type IpSubnet } from '../domain/ip.js';
import { InvalidAccountingRecordError, readAccountingEvent } from '../domain/radius.js';
import type { AccountingInput } from '../domain/radius-session.js';
import type { Logger } from '../logger.js';
import { createClientLookup } from './clients.js';
import {
  type AccountingRequest,
  accountingAttributes,
  decodeAccountingRequest,
  encodeAccountingResponse,
  readHeader,
} from './codec.js';
import type { AccountingBatch, AccountingResult } from './store.js';

// A RADIUS accounting server (RFC 2866). A NAS retransmits a request until it is answered, so the
// answer is the receipt: it goes out only once the request's effect has committed. Requests that
// arrive while a transaction runs wait for the next one, which applies them all (a group commit).

/** A NAS allowed to send accounting: where its packets come from, its secret, its sessions' context. */
export interface RadiusClient {
  address: IpSubnet;
  secret: string;
  tenant: Tenant;
}

export interface RadiusListenerOptions {
  host: string;
  /** 0: any free port (the one bound is in the result and the log). */
  port: number;
  clients: readonly RadiusClient[];
  /** Writes the groups' events in one transaction; resolves once committed (radius/store.ts applyAccounting). */
  apply(batches: AccountingBatch[]): Promise<AccountingResult[]>;
  /** Requests applied in one transaction at most. */
  batchSize: number;
  /** Requests waiting at most; past it they are dropped (the NAS retransmits). */
  queueLimit: number;
  logger: Logger;
  registry: Registry;
  /** Unix seconds now (tests move it). */
  now?: () => number;
}

export interface RadiusListener {
  port: number;
  /** Applies a timeout sweep in each client's context, through the same queue as the requests. */
  sweep(): void;
  /** Stops receiving, answers what has been taken in, then closes the socket. */
  stop(): Promise<void>;
}

interface Queued {
  tenant: Tenant;
  input: AccountingInput;
  /** Answers the request (null for a sweep). */
  answer: (() => void) | null;
  /** The retransmission key, forgotten if the request fails (its retransmission is then taken in anew). */
  key: string | null;
  arrivedAt: bigint;
}

// How long an answer is kept for a NAS that did not get it: longer than a NAS retransmits the same packet.
const ANSWER_CACHE_MS = 30_000;
const ANSWER_CACHE_LIMIT = 100_000;
// One warning per kind of dropped packet per this many milliseconds: a misconfigured NAS sends many.
const WARNING_INTERVAL_MS = 10_000;

function createRadiusMetrics(registry: Registry) {
  return {
    packets: new Counter({
      name: 'ipdr_radius_packets_total',
      help: 'RADIUS accounting packets received, by what became of them',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    events: new Counter({
      name: 'ipdr_radius_events_total',
      help: 'Accounting events applied, by outcome (applied, duplicate, stale, ignored)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    conflicts: new Counter({
      name: 'ipdr_radius_conflicts_total',
      help: 'Session addresses not written because another holder had them (see radiusConflicts)',
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'ipdr_radius_batch_size',
      help: 'Accounting requests applied per transaction',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    responseSeconds: new Histogram({
      name: 'ipdr_radius_response_seconds',
      help: 'Time from a request’s arrival to its Accounting-Response',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export async function startRadiusListener(options: RadiusListenerOptions): Promise<RadiusListener> {
  const { logger, batchSize, queueLimit } = options;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const metrics = createRadiusMetrics(options.registry);
  const clientOf = createClientLookup(options.clients);
  const socket: Socket = createSocket({ type: options.host.includes(':') ? 'udp6' : 'udp4' });

  const answered = new Map<string, { response: Buffer; at: number }>();
  const inFlight = new Set<string>();
  const queue: Queued[] = [];
  let draining: Promise<void> | null = null;
  let stopping = false;
  let failing = false;
  const lastWarning = new Map<string, number>();

  function warn(kind: string, details: Record<string, unknown>, message: string) {
    const at = Date.now();
    if ((lastWarning.get(kind) ?? -Infinity) > at - WARNING_INTERVAL_MS) return;
    lastWarning.set(kind, at);
    logger.warn({ outcome: kind, ...details }, message);
  }

  // Answers handed to the socket and not yet sent: a stop closes the socket only once they are.
  let sending = 0;
  let allSent: (() => void) | null = null;

  function send(response: Buffer, to: RemoteInfo) {
    sending++;
    socket.send(response, to.port, to.address, (error) => {
      if (error) warn('send_failed', { to: to.address, err: error.message }, 'RADIUS response not sent');
      if (--sending === 0) allSent?.();
    });
  }

  function remember(key: string, response: Buffer) {
    const at = Date.now();
    answered.set(key, { response, at });
    for (const [oldKey, entry] of answered) {
      if (answered.size <= ANSWER_CACHE_LIMIT && entry.at > at - ANSWER_CACHE_MS) break;
      answered.delete(oldKey);
    }
  }

  function answerer(request: AccountingRequest, secret: string, key: string, to: RemoteInfo, arrivedAt: bigint) {
    return () => {
      const response = encodeAccountingResponse(request, secret);
      remember(key, response);
      send(response, to);
      metrics.responseSeconds.observe(Number(process.hrtime.bigint() - arrivedAt) / 1e9);
    };
  }

  function receive(datagram: Buffer, from: RemoteInfo) {
    try {
      takeIn(datagram, from);
    } catch (error) {
      // A fault of this code, not of the NAS: the packet goes unanswered (its NAS retransmits)
      // and the listener keeps serving the others.
      metrics.packets.inc({ outcome: 'failed' });
      warn('failed', { from: from.address, err: error }, 'RADIUS packet not handled');
    }
  }

  function takeIn(datagram: Buffer, from: RemoteInfo) {
    if (stopping) return;
    const arrivedAt = process.hrtime.bigint();
    const client = clientOf(from.address);
    if (!client) {
      metrics.packets.inc({ outcome: 'unknown_client' });
      return warn('unknown_client', { from: from.address }, 'RADIUS packet from an address no client covers, dropped');
    }
    const reading = readHeader(datagram);
    if ('problem' in reading) {
      metrics.packets.inc({ outcome: reading.problem });
      return warn(reading.problem, { from: from.address, reason: reading.reason }, 'RADIUS packet dropped');
    }
    const { header } = reading;
    const key = `${from.address}|${from.port}|${header.identifier}|${header.authenticator.toString('hex')}`;
    const cached = answered.get(key);
    if (cached) {
      metrics.packets.inc({ outcome: 'retransmission_answered' });
      return send(cached.response, from);
    }
    if (inFlight.has(key)) return void metrics.packets.inc({ outcome: 'retransmission_in_flight' });

    const decoded = decodeAccountingRequest(datagram, header, client.secret);
    if ('problem' in decoded) {
      metrics.packets.inc({ outcome: decoded.problem });
      return warn(decoded.problem, { from: from.address, reason: decoded.reason }, 'RADIUS packet dropped');
    }
    const answer = answerer(decoded.request, client.secret, key, from, arrivedAt);
    let event;
    try {
      event = readAccountingEvent(accountingAttributes(decoded.request.packet), {
        at: now(),
        sourceAddress: from.address,
      });
    } catch (error) {
      if (!(error instanceof InvalidAccountingRecordError)) throw error;
      // Answered all the same: the NAS would send it for ever, and no retry can make it readable.
      metrics.packets.inc({ outcome: 'refused' });
      warn(
        'refused',
        { from: from.address, field: error.field, reason: error.reason },
        'RADIUS accounting record refused',
      );
      return answer();
    }
    if (event === null) {
      metrics.packets.inc({ outcome: 'ignored' });
      return answer();
    }
    if (queue.length >= queueLimit) {
      metrics.packets.inc({ outcome: 'queue_full' });
      return warn('queue_full', { queued: queue.length }, 'RADIUS queue full, request dropped (the NAS retransmits)');
    }
    metrics.packets.inc({ outcome: 'accepted' });
    inFlight.add(key);
    queue.push({ tenant: client.tenant, input: event, answer, key, arrivedAt });
    drain();
  }

  /** Groups requests by context, in arrival order within each. */
  function batchesOf(group: readonly Queued[]): { batches: AccountingBatch[]; items: Queued[][] } {
    const byTenant = new Map<number, { batch: AccountingBatch; items: Queued[] }>();
    for (const item of group) {
      let entry = byTenant.get(item.tenant.id);
      if (!entry) byTenant.set(item.tenant.id, (entry = { batch: { tenant: item.tenant, inputs: [] }, items: [] }));
      entry.batch.inputs.push(item.input);
      entry.items.push(item);
    }
    const entries = [...byTenant.values()];
    return { batches: entries.map((entry) => entry.batch), items: entries.map((entry) => entry.items) };
  }

  async function applyGroup(group: Queued[]): Promise<boolean> {
    const { batches, items } = batchesOf(group);
    let results: AccountingResult[];
    try {
      results = await options.apply(batches);
    } catch (error) {
      if (group.length > 1) {
        // One request the database refuses must not hold back the others: each goes alone. Two
        // failing in a row say the database itself fails: the rest wait for their retransmission
        // instead of a transaction each against a database that is down.
        let failedInARow = 0;
        for (const [index, item] of group.entries()) {
          failedInARow = (await applyGroup([item])) ? 0 : failedInARow + 1;
          if (failedInARow === 2) {
            for (const left of group.slice(index + 1)) if (left.key) inFlight.delete(left.key);
            break;
          }
        }
        return false;
      }
      if (!failing) logger.error({ err: error }, 'RADIUS accounting not written; requests go unanswered until it is');
      failing = true;
      for (const item of group) if (item.key) inFlight.delete(item.key);
      return false;
    }
    if (failing) logger.info('RADIUS accounting written again');
    failing = false;
    metrics.batchSize.observe(group.length);
    results.forEach((result, index) => {
      metrics.conflicts.inc(result.conflicts);
      result.outcomes.forEach((outcome, at) => {
        const item = items[index]![at]!;
        if (item.answer) metrics.events.inc({ outcome });
        if (item.key) inFlight.delete(item.key);
        try {
          item.answer?.();
        } catch (error) {
          // Committed but not answered: the retransmission is answered as a duplicate.
          warn('failed', { err: error }, 'RADIUS answer not sent');
        }
      });
    });
    return true;
  }

  function drain() {
    // With nothing queued the body would finish before `draining` is assigned, leaving it set for good.
    if (draining || queue.length === 0) return;
    draining = (async () => {
      try {
        while (queue.length > 0) await applyGroup(queue.splice(0, batchSize));
      } finally {
        draining = null;
      }
    })();
  }

  socket.on('message', receive);
  socket.on('error', (error) => logger.error({ err: error }, 'RADIUS socket error'));
  socket.bind(options.port, options.host);
  await once(socket, 'listening');
  const { port } = socket.address();
  logger.info({ port, clients: options.clients.length }, 'RADIUS accounting listening');

  return {
    port,
    sweep() {
      if (stopping) return;
      const at = now();
      const tenants = new Map(options.clients.map((client) => [client.tenant.id, client.tenant]));
      for (const tenant of tenants.values()) {
        queue.push({
          tenant,
          input: { kind: 'sweep', at },
          answer: null,
          key: null,
          arrivedAt: process.hrtime.bigint(),
        });
      }
      drain();
    },
    async stop() {
      stopping = true;
      while (draining) await draining;
      if (sending > 0) await new Promise<void>((resolve) => (allSent = resolve));
      socket.close();
      await once(socket, 'close');
    },
  };
}
