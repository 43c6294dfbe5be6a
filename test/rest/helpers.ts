import { pathToFileURL } from 'node:url';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { prisma } from '../setup/app.js';
import { addressKey, parseIpSubnet } from '../../src/domain/ip.js';
import { yoga } from '../setup/app.js';

/** One documented call of Trisul's API, as test/fixtures/trisul-api/ records it (see its README). */
export interface FixtureCall {
  title: string;
  given: {
    nextIds?: { customer?: number; mapping?: number };
    customers?: (StoredCustomer & { context: string; id: number })[];
    mappings?: {
      context: string;
      id: number;
      ipdr_customer_id: number;
      ipsubnet: string;
      starttime: number;
      endtime: number | null;
      terminalid: string;
    }[];
    revokedAccess?: { username: string; context: string }[];
  };
  request: CurlExample;
  /** The request is the page's curl example (in page order), not written here. */
  requestOnPage: boolean;
  response: { status: number; body: unknown };
  /** The page shows this response; otherwise it is this server's, and `note` says why. */
  responseOnPage: boolean;
  note?: string;
}

export interface FixturePage {
  /** The page of ../shared/spec/ the calls are written from. */
  page: string;
  calls: FixtureCall[];
}

const FIXTURES = new URL('../fixtures/trisul-api/', import.meta.url);

/** The fixtures of every page, by fixture file name. */
export function fixturePages(): [string, FixturePage][] {
  return readdirSync(FIXTURES)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => [name, JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as FixturePage]);
}

// Trisul's reference pages, beside the project in the working copy it is written in; a clone
// has nothing there, and only the check that the fixtures still match the pages needs them.
// TRISUL_SPEC_DIR names the pages where they are not beside the project (.ci/run tests a clone
// made elsewhere, and points it at the pages beside the checkout it came from).
export const SPEC_DIR = process.env.TRISUL_SPEC_DIR
  ? pathToFileURL(`${process.env.TRISUL_SPEC_DIR.replace(/\/$/, '')}/`)
  : new URL('../../../shared/spec/', import.meta.url);
export const specPresent = existsSync(SPEC_DIR);

export interface CurlExample {
  method: string;
  path: string;
  body: Record<string, unknown>;
}

/** Every `curl -X METHOD 'URL' ... -d '{...}'` example of a spec page, in order. */
export function curlExamples(page: string): CurlExample[] {
  const text = readFileSync(new URL(page, SPEC_DIR), 'utf8');
  return [...text.matchAll(/curl -X (GET|POST|PUT|PATCH|DELETE) '([^']+)'[\s\S]*?-d '([^']*)'/g)].map(
    ([, method, url, body]) => ({ method: method!, path: new URL(url!).pathname, body: JSON.parse(body!) }),
  );
}

/**
 * Sends a REST request through the app. A GET carries its parameters in a JSON body, which the
 * Fetch API cannot send, so it goes as the HTTP server passes it on (http/node-handler.ts).
 */
export async function rest(method: string, path: string, body?: unknown) {
  const init = {
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  };
  const response =
    method === 'GET' && body !== undefined
      ? await yoga.fetch(`http://ipdr.test${path}`, { ...init, method: 'POST' }, { restMethod: 'GET' })
      : await yoga.fetch(`http://ipdr.test${path}`, { ...init, method });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as unknown, text };
}

async function contextId(name: string) {
  return (await prisma.context.findUniqueOrThrow({ where: { name } })).id;
}

interface StoredCustomer {
  UserID: string;
  Name: string;
  Address?: string;
  Email?: string;
  PhoneNumber?: string;
  AltPhoneNumber?: string;
}

/** A stored customer with a given id, as an earlier Trisul request would have left it. */
export async function seedCustomer(id: number, fields: StoredCustomer, context = 'default') {
  await prisma.customer.create({
    data: {
      id,
      contextId: await contextId(context),
      userId: fields.UserID,
      name: fields.Name,
      address: fields.Address || null,
      email: fields.Email || null,
      phoneNumber: fields.PhoneNumber || null,
      altPhoneNumber: fields.AltPhoneNumber || null,
    },
  });
}

/** A stored mapping with a given id, as the API stores it: its terminal id as sent, "" as null. */
export async function seedMapping(
  id: number,
  customerId: number,
  ipsubnet: string,
  starttime: number,
  endtime: number | null,
  terminalid: string,
  context = 'default',
) {
  const subnet = parseIpSubnet(ipsubnet);
  await prisma.ipMapping.create({
    data: {
      id,
      contextId: await contextId(context),
      customerId,
      userId: (await prisma.customer.findUniqueOrThrow({ where: { id: customerId } })).userId,
      ipsubnet,
      network: subnet.network,
      ipFirst: addressKey(subnet.first),
      ipLast: addressKey(subnet.last),
      starttime: BigInt(starttime),
      endtime: endtime === null ? null : BigInt(endtime),
      terminalId: terminalid || null,
    },
  });
}
