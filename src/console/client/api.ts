/// <reference lib="dom" />
// The console's calls to the gateway it is served by: GraphQL, the live feed over Server-Sent
// Events, and the streaming attribution endpoint. Each carries the token and the context as any
// other client's request does; nothing here is a path of its own to the data.

export interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string; field?: string };
}

export interface Session {
  token: string;
  context: string | null;
}

/** A request the gateway refused or could not answer: its errors, and which field each names. */
export class RequestFailed extends Error {
  constructor(
    readonly errors: GraphQLErrorShape[],
    readonly status: number,
  ) {
    super(errors.map((error) => error.message).join('; '));
  }

  /** The input field an error names: its `field` extension, or the variable a refused value was given in. */
  static fieldOf(error: GraphQLErrorShape): string | null {
    if (error.extensions?.field) return error.extensions.field.split('.').pop()!;
    return /Variable "\$(\w+)"/.exec(error.message)?.[1] ?? null;
  }
}

function headers(session: Session, extra: Record<string, string> = {}): Record<string, string> {
  return {
    authorization: `Bearer ${session.token}`,
    ...(session.context ? { 'x-context': session.context } : {}),
    ...extra,
  };
}

export async function graphql<Data>(session: Session, query: string, variables: Record<string, unknown> = {}) {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: headers(session, { 'content-type': 'application/json', accept: 'application/graphql-response+json' }),
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new RequestFailed([{ message: 'The gateway could not be reached.' }], 0);
  }
  const body = (await response.json().catch(() => null)) as { data?: Data; errors?: GraphQLErrorShape[] } | null;
  if (!body) throw new RequestFailed([{ message: `The gateway answered ${response.status}.` }], response.status);
  if (body.errors?.length) throw new RequestFailed(body.errors, response.status);
  return body.data as Data;
}

export interface FeedMessage {
  id: string;
  [field: string]: unknown;
}

/**
 * Follows a subscription, handing each event to `onEvent`, resuming after the last id seen when
 * the stream drops (the feed gives every event since, none twice), until `signal` aborts.
 */
export async function follow(
  session: Session,
  query: string,
  onEvent: (event: FeedMessage) => void,
  onState: (state: 'open' | 'reconnecting' | { error: string }) => void,
  signal: AbortSignal,
) {
  let after: string | null = null;
  while (!signal.aborted) {
    try {
      const response = await fetch('/graphql', {
        method: 'POST',
        headers: headers(session, { 'content-type': 'application/json', accept: 'text/event-stream' }),
        body: JSON.stringify({ query, variables: { after } }),
        signal,
      });
      if (!response.ok || !response.body) throw new Error(`the gateway answered ${response.status}`);
      onState('open');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trim())
            .join('\n');
          if (!data) continue;
          const payload = JSON.parse(data) as { data?: Record<string, FeedMessage>; errors?: GraphQLErrorShape[] };
          if (payload.errors?.length) {
            onState({ error: payload.errors.map((error) => error.message).join('; ') });
            return;
          }
          const event = payload.data && Object.values(payload.data)[0];
          if (event) {
            after = event.id;
            onEvent(event);
          }
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    onState('reconnecting');
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

export interface AttributionProgress {
  rowsAnswered: number;
}

/** Sends a CSV report to POST /attribute and reads the attributed CSV back as it streams. */
export async function attribute(
  session: Session,
  csv: Blob,
  options: { reason: string; timeZone: string; asOf?: number },
  onProgress: (progress: AttributionProgress) => void,
): Promise<string> {
  const query = new URLSearchParams({ reason: options.reason, timezone: options.timeZone });
  if (options.asOf !== undefined) query.set('asOf', String(options.asOf));
  let response: Response;
  try {
    response = await fetch(`/attribute?${query}`, {
      method: 'POST',
      headers: headers(session, { 'content-type': 'text/csv' }),
      body: csv,
    });
  } catch {
    throw new RequestFailed([{ message: 'The gateway could not be reached.' }], 0);
  }
  if (!response.ok || !response.body) {
    const body = (await response.json().catch(() => null)) as { errors?: GraphQLErrorShape[] } | null;
    throw new RequestFailed(body?.errors ?? [{ message: `The gateway answered ${response.status}.` }], response.status);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  let lines = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    for (const char of value) if (char === '\n') lines += 1;
    // The header is the first line out; every later one is a row answered.
    onProgress({ rowsAnswered: Math.max(0, lines - 1) });
  }
  return text;
}
