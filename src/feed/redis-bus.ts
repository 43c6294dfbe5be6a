import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { FeedBus } from './hub.js';

// The feed's wake-ups between instances over Redis pub/sub. Only a wake-up: the events are read
// from the database, so a message lost while Redis is down costs a poll's delay, never an event.

const CHANNEL = 'ipdr-gateway:feed';

export function createRedisFeedBus(url: string, logger: Logger): FeedBus {
  const options = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 10), 5_000),
  };
  const publisher = new Redis(url, options);
  // A connection that subscribes can do nothing else. It queues its SUBSCRIBE until it is ready,
  // and ioredis subscribes again after each reconnection.
  const subscriber = new Redis(url, { ...options, enableOfflineQueue: true });
  let down = false;
  const wentDown = (error: unknown) => {
    if (down) return;
    down = true;
    logger.warn({ err: error }, 'live feed wake-ups unreachable in Redis; other instances are polled until it answers');
  };
  publisher.on('error', wentDown);
  subscriber.on('error', wentDown);
  subscriber.on('ready', () => {
    if (down) logger.info('live feed wake-ups reach Redis again');
    down = false;
  });
  const listeners: (() => void)[] = [];
  subscriber.on('message', () => listeners.forEach((listener) => listener()));
  subscriber.subscribe(CHANNEL).catch(wentDown);
  return {
    announce() {
      if (publisher.status !== 'ready') return;
      publisher.publish(CHANNEL, '').catch(wentDown);
    },
    onAnnounced(listener) {
      listeners.push(listener);
    },
    async close() {
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
