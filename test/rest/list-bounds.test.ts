import { beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, prisma } from '../setup/app.js';
import { resetData } from '../helpers.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// A REST list reads its rows page by page (250 a page) through the app's own GraphQL requests.
// Its size is bounded by MAX_RESPONSE_BYTES as it is built, and its time by one
// REQUEST_TIMEOUT_MS for all its pages. The test's app is built with these limits.

const LIMIT = 64 * 1024;
const TIMEOUT_MS = 4000;
const { yoga } = createTestApp({ MAX_RESPONSE_BYTES: String(LIMIT), REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) });

const PAGE = 250;

// The pages the app reads: each is one SELECT from ipdr_customers (Prisma reports every statement
// it sent). With `pageTakesMs`, each page's statement holds the process that long once it has run,
// as a slow statement on PGlite does: the page's own operation takes that much longer.
const pageStatements: string[] = [];
let pageTakesMs = 0;
(prisma.$on as (event: 'query', listener: (event: { query: string }) => void) => void)('query', ({ query }) => {
  if (!/^SELECT\b[\s\S]*\bFROM "public"\."ipdr_customers"/.test(query)) return;
  pageStatements.push(query);
  if (pageTakesMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pageTakesMs);
});

beforeEach(async () => {
  await resetData();
  pageStatements.length = 0;
  pageTakesMs = 0;
});

async function addCustomers(count: number, address = '') {
  const context = await prisma.context.findUniqueOrThrow({ where: { name: 'default' } });
  await prisma.customer.createMany({
    data: Array.from({ length: count }, (_, i) => ({
      contextId: context.id,
      userId: `C${String(i).padStart(4, '0')}`,
      name: `Customer ${i}`,
      address,
    })),
  });
}

async function list() {
  const response = await yoga.fetch(`http://ipdr.test/api/ipdrcustomers?api_token=${ADMIN_TOKEN}&username=admin`);
  const text = await response.text();
  return { status: response.status, contentLength: response.headers.get('content-length'), text };
}

describe('a REST list', () => {
  it('within both limits answers every row of every page, in order', async () => {
    await addCustomers(2 * PAGE + 1);
    const answer = await list();
    expect(answer.status).toBe(200);
    const rows = JSON.parse(answer.text) as { UserID: string; Name: string; Address: string }[];
    expect(rows.map((row) => row.UserID)).toEqual(
      Array.from({ length: 2 * PAGE + 1 }, (_, i) => `C${String(i).padStart(4, '0')}`),
    );
    expect(rows[0]).toMatchObject({ Name: 'Customer 0', Address: '', Email: '', UserID: 'C0000' });
    expect(answer.contentLength).toBe(String(Buffer.byteLength(answer.text)));
    expect(pageStatements).toHaveLength(3);
  });

  it('past MAX_RESPONSE_BYTES is refused with 400 in the REST shape as soon as it passes it: no further page is read', async () => {
    // Some 1.1 KB a row: the first page alone passes the limit.
    await addCustomers(2 * PAGE, 'x'.repeat(1000));
    const answer = await list();
    expect(pageStatements).toHaveLength(1);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toEqual({
      status: 'Error',
      message: expect.stringMatching(
        new RegExp(
          `^The response would be at least \\d+ bytes, over the server's limit of ${LIMIT} bytes \\(MAX_RESPONSE_BYTES\\)`,
        ),
      ),
    });
  });

  it('has one REQUEST_TIMEOUT_MS for all its pages: pages each in time but together past it are answered 504', async () => {
    await addCustomers(2 * PAGE + 1);
    // Page 1 ends well within the time, page 2 past it (it is answered: nothing of it was
    // stopped), and page 3 would begin past it.
    pageTakesMs = (TIMEOUT_MS * 5) / 8;
    const answer = await list();
    expect(answer.status).toBe(504);
    expect(JSON.parse(answer.text)).toEqual({
      status: 'Error',
      message: expect.stringMatching(new RegExp(`^The request timed out after ${TIMEOUT_MS} ms and was cancelled`)),
    });
    expect(pageStatements).toHaveLength(2);
  });
});
