import { ADMIN_TOKEN } from '../setup/credentials.js';

// A subscriber over Server-Sent Events as a dashboard's EventSource-like client reads one: POST
// with Accept: text/event-stream, then events as they arrive.

export interface SseMessage {
  event: string;
  data: unknown;
}

export interface SseStream {
  status: number;
  /** The next message (keep-alive comments skipped); fails after `timeoutMs`. */
  next(timeoutMs?: number): Promise<SseMessage>;
  /** Whether a message arrives within `ms` (it is kept for next). */
  quietFor(ms: number): Promise<boolean>;
  close(): Promise<void>;
}

type Fetch = (url: string, init: RequestInit) => Promise<Response>;

export async function openSse(
  fetch: Fetch,
  body: { query: string; variables?: Record<string, unknown> },
  options: { token?: string; context?: string; path?: string; base?: string } = {},
): Promise<SseStream> {
  const response = await fetch(`${options.base ?? 'http://ipdr.test'}${options.path ?? '/graphql'}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${options.token ?? ADMIN_TOKEN}`,
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(options.context ? { 'x-context': options.context } : {}),
    },
    body: JSON.stringify(body),
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const ready: SseMessage[] = [];
  let reading: Promise<void> | null = null;

  // Reads until one whole message is buffered.
  const readOne = () =>
    (reading ??= (async () => {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n').filter((line) => !line.startsWith(':'));
          if (lines.length === 0) continue;
          const event =
            lines
              .find((line) => line.startsWith('event:'))
              ?.slice(6)
              .trim() ?? 'message';
          const data = lines
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trim())
            .join('\n');
          ready.push({ event, data: data === '' ? null : JSON.parse(data) });
          return;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    })().finally(() => (reading = null)));

  const within = <T>(promise: Promise<T>, ms: number) =>
    Promise.race([
      promise.then((value) => ({ value })),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), ms)),
    ]);

  return {
    status: response.status,
    async next(timeoutMs = 5000) {
      if (ready.length === 0) {
        const read = await within(readOne(), timeoutMs);
        if (read === null) throw new Error(`no message within ${timeoutMs} ms`);
      }
      return ready.shift()!;
    },
    async quietFor(ms) {
      if (ready.length > 0) return false;
      return (await within(readOne(), ms)) === null;
    },
    async close() {
      await reader.cancel().catch(() => {});
    },
  };
}
