import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminSettings, runAdminCommand } from '../../src/cli/admin.js';
import type { Db } from '../../src/db/handle.js';
import { readEnv } from '../../src/env.js';
import { createHttpServer } from '../../src/http/node-handler.js';
import { createCustomer, createMapping, graphqlData, resetData } from '../helpers.js';
import { childEnv } from '../setup/child-env.js';
import { app, db, prisma } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// `ipdr-admin attribute`: the rows of a file attributed on the test database (the CLI's embedded
// mode, run in this process), then by this file's app served over HTTP (--url), where the CLI must
// not open any database; the last test runs the real CLI process against that server.

const FIXTURES = 'test/fixtures/attribution';
const CSV_IN = join(FIXTURES, 'flows.csv');
const NDJSON_IN = join(FIXTURES, 'flows.ndjson');
const dir = mkdtempSync(join(tmpdir(), 'ipdr-attribute-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let staticId: number;
let insideId: number;
let bindingId: number;
let server: Server;
let url: string;

beforeAll(async () => {
  await resetData();
  await createCustomer('U-STATIC', 'Static Customer');
  await createCustomer('U-INSIDE', 'Inside Subscriber');
  staticId = (await createMapping({ userId: 'U-STATIC', ipsubnet: '10.20.0.0/24', starttime: 1000, endtime: 5000 })).id;
  insideId = (await createMapping({ userId: 'U-INSIDE', ipsubnet: '100.64.5.5', starttime: 0 })).id;
  const binding = await graphqlData(
    `mutation($input: NatBindingInput!) { createNatBinding(input: $input) { __typename ... on NatBinding { id } } }`,
    {
      input: {
        publicAddress: '203.0.113.77',
        portFirst: 4096,
        portLast: 4351,
        insideAddress: '100.64.5.5',
        starttime: 2000,
      },
    },
  );
  bindingId = binding.createNatBinding.id;
  server = createHttpServer(app, { bodyLimitBytes: 4096, receiveTimeoutMs: 2000 });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Fails the test if the command opens a database: over HTTP, the server answers. */
const noDatabase = async (): Promise<Db> => {
  throw new Error('the CLI opened the database in --url mode');
};

async function attribute(
  args: string[],
  { database = db, settings = readEnv({}) }: { database?: Db | (() => Promise<Db>); settings?: AdminSettings } = {},
) {
  let stdout = '';
  let stderr = '';
  const code = await runAdminCommand(
    database,
    ['node', 'ipdr-admin', 'attribute', ...args],
    {
      out: (line) => (stdout += `${line}\n`),
      err: (text) => (stderr += text),
    },
    settings,
  );
  return { code, stdout, stderr };
}

let outputs = 0;
const outPath = (extension = 'csv') => join(dir, `out-${++outputs}.${extension}`);
const csvRows = (text: string) => parse(text, { columns: true }) as Record<string, string>[];

const SUMMARY = [
  '5 rows answered',
  'with a holder: 3',
  '  through carrier-grade NAT: 1',
  'without a holder: 1',
  'with an error: 1',
];

const loggedWith = (reason: string) => prisma.lookupLogEntry.findMany({ where: { reason } });

/** The answer every mode gives for flows.csv. */
function expectFlowsAnswer(text: string) {
  const rows = csvRows(text);
  expect(text.split('\n')[0]).toBe(
    'ip,time,port,flow,userid,name,mapping_id,ipsubnet,starttime,endtime,source,' +
      'nat_kind,nat_id,nat_port_first,nat_port_last,nat_inside_address,nat_inside_context,nat_source,error',
  );
  expect(rows.map((row) => row.flow)).toEqual(['static-hit', 'trisul-time', 'through-nat', 'miss', 'bad-time']);
  expect(rows[0]).toEqual({
    ip: '10.20.0.9',
    time: '1500',
    port: '',
    flow: 'static-hit',
    userid: 'U-STATIC',
    name: 'Static Customer',
    mapping_id: String(staticId),
    ipsubnet: '10.20.0.0/24',
    starttime: '1000',
    endtime: '5000',
    source: 'API',
    nat_kind: '',
    nat_id: '',
    nat_port_first: '',
    nat_port_last: '',
    nat_inside_address: '',
    nat_inside_context: '',
    nat_source: '',
    error: '',
  });
  // 01:10:00 in UTC (--timezone) is 4200: held.
  expect(rows[1]).toMatchObject({ time: '01-01-1970 01:10:00', userid: 'U-STATIC', error: '' });
  expect(rows[2]).toMatchObject({
    userid: 'U-INSIDE',
    name: 'Inside Subscriber',
    mapping_id: String(insideId),
    nat_kind: 'binding',
    nat_id: String(bindingId),
    nat_port_first: '4096',
    nat_port_last: '4351',
    nat_inside_address: '100.64.5.5',
    nat_inside_context: 'default',
    error: '',
  });
  expect(rows[3]).toMatchObject({ ip: '198.51.100.1', userid: '', mapping_id: '', error: '' });
  expect(rows[4]).toMatchObject({ userid: '', error: expect.stringMatching(/^time: "yesterday" is not a time/) });
}

describe('ipdr-admin attribute on the database', () => {
  it('writes each row of IN with its answer to OUT, logs the lookups with the reason, and sums up', async () => {
    const out = outPath();
    const result = await attribute([
      CSV_IN,
      out,
      '--context',
      'default',
      '--reason',
      'CASE-CLI-1',
      '--timezone',
      'UTC',
    ]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.split('\n').slice(0, 5)).toEqual(SUMMARY);
    expect(result.stdout).toMatch(/\nelapsed: \d+\.\d s\n$/);
    expectFlowsAnswer(readFileSync(out, 'utf8'));
    // The bad row is answered but not asked: four lookups, in one batch, as the CLI's user.
    const logged = await loggedWith('CASE-CLI-1');
    expect(logged.map((entry) => [entry.channel, entry.username, entry.operation, entry.lookups])).toEqual([
      ['cli', `cli:${userInfo().username}`, 'attribute', 4],
    ]);
    expect((logged[0]!.detail as { asked: unknown[] }).asked).toContainEqual({
      ip: '203.0.113.77',
      at: 3000,
      port: 4100,
    });
  });

  it('reads and writes NDJSON, by the name or by --format', async () => {
    const out = outPath('ndjson');
    const result = await attribute([NDJSON_IN, out, '--context', 'default', '--reason', 'CASE-CLI-2']);
    expect(result.code).toBe(0);
    const rows = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatchObject({ ip: '10.20.0.9', time: 1500, flow: 'static-hit', userid: 'U-STATIC' });
    expect(rows[1]).toMatchObject({ flow: 'through-nat', nat_kind: 'binding', userid: 'U-INSIDE' });
    expect(rows[2]).toMatchObject({ flow: 'miss', userid: null, error: null });
    expect(rows[3]).toMatchObject({ userid: null, error: 'line 4: not JSON' });
    expect(result.stdout).toMatch(/^4 rows answered\nwith a holder: 2\n {2}through carrier-grade NAT: 1\n/);

    const unnamed = join(dir, 'flows.txt');
    writeFileSync(unnamed, readFileSync(NDJSON_IN));
    const byFormat = outPath('ndjson');
    expect(
      (await attribute([unnamed, byFormat, '--context', 'default', '--reason', 'CASE-CLI-2', '--format', 'ndjson']))
        .code,
    ).toBe(0);
    expect(readFileSync(byFormat, 'utf8')).toBe(readFileSync(out, 'utf8'));
    expect(await attribute([unnamed, outPath(), '--context', 'default', '--reason', 'C'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: format: .*give --format csv or --format ndjson\n$/),
    });
  });

  it('refuses, by name, a bad --timezone, an empty --reason, an unknown context, a bad header: no OUT', async () => {
    const out = outPath();
    const base = [CSV_IN, out, '--context', 'default'];
    const timezone = await attribute([...base, '--reason', 'C', '--timezone', 'Mars/Olympus']);
    expect(timezone.code).toBe(1);
    expect(timezone.stderr).toMatch(/--timezone <zone>.*Mars\/Olympus.*must be an IANA time zone/);
    expect(await attribute([...base, '--reason', ''])).toMatchObject({
      code: 1,
      stderr: 'error: reason: a case reference is required: every attribution is logged with it\n',
    });
    expect(await attribute([...base, '--reason', '   '])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: reason: /),
    });
    expect((await attribute([CSV_IN, out, '--context', 'default'])).stderr).toMatch(/--reason <case>.*not specified/);
    expect(await attribute([CSV_IN, out, '--context', 'nowhere', '--reason', 'C'])).toMatchObject({
      code: 1,
      stderr: 'error: context nowhere not found\n',
    });
    const badHeader = join(dir, 'bad-header.csv');
    writeFileSync(badHeader, 'ip,when\n10.20.0.9,1500\n');
    expect(await attribute([badHeader, out, '--context', 'default', '--reason', 'C'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: header: no time column/),
    });
    expect(await attribute([join(dir, 'absent.csv'), out, '--context', 'default', '--reason', 'C'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: IN: .*absent\.csv cannot be read \(ENOENT\)\n$/),
    });
    expect(await attribute([CSV_IN, CSV_IN, '--context', 'default', '--reason', 'C'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: OUT: must not be IN itself/),
    });
    expect(await attribute([...base, '--reason', 'C', '--token', ADMIN_TOKEN])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: token: is sent with --url only/),
    });
    expect(existsSync(out)).toBe(false);
    expect(await loggedWith('C')).toEqual([]);
  });
});

describe('ipdr-admin attribute --url', () => {
  it('gives the same OUT as on the database, logged by the server as the token\u2019s user', async () => {
    const direct = outPath();
    await attribute([CSV_IN, direct, '--context', 'default', '--reason', 'CASE-CLI-3', '--timezone', 'UTC']);
    const out = outPath();
    const args = [CSV_IN, out, '--context', 'default', '--reason', 'CASE-HTTP-1', '--timezone', 'UTC', '--url', url];
    const result = await attribute([...args, '--token', ADMIN_TOKEN], { database: noDatabase });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.split('\n').slice(0, 5)).toEqual(SUMMARY);
    expectFlowsAnswer(readFileSync(out, 'utf8'));
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(direct, 'utf8'));
    const logged = await loggedWith('CASE-HTTP-1');
    expect(logged.map((entry) => [entry.channel, entry.username, entry.lookups])).toEqual([['attribute', 'admin', 4]]);

    // The token from IPDR_TOKEN; NDJSON as on the database.
    const ndjson = outPath('ndjson');
    const fromEnv = await attribute(
      [NDJSON_IN, ndjson, '--context', 'default', '--reason', 'CASE-HTTP-2', '--url', `${url}/`],
      { database: noDatabase, settings: { ...readEnv({}), IPDR_TOKEN: ADMIN_TOKEN } },
    );
    expect(fromEnv).toMatchObject({ code: 0, stderr: '' });
    expect(fromEnv.stdout).toMatch(/^4 rows answered\nwith a holder: 2\n {2}through carrier-grade NAT: 1\n/);
    const viaDatabase = outPath('ndjson');
    await attribute([NDJSON_IN, viaDatabase, '--context', 'default', '--reason', 'CASE-CLI-4']);
    expect(readFileSync(ndjson, 'utf8')).toBe(readFileSync(viaDatabase, 'utf8'));
  });

  it('says what the server refused, with its field, exits 1 and writes no OUT', async () => {
    const out = outPath();
    const run = (args: string[], token = ADMIN_TOKEN) =>
      attribute([...args, '--url', url, '--token', token], { database: noDatabase });
    expect(await run([CSV_IN, out, '--context', 'default', '--reason', 'C'], 'not-the-token-0123456789')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: Invalid API token (HTTP 401)\n',
    });
    const unknown = await run([CSV_IN, out, '--context', 'nowhere', '--reason', 'C']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: .*nowhere.* \(HTTP 403\)\n$/);
    const badHeader = join(dir, 'bad-header-http.csv');
    writeFileSync(badHeader, 'ip,when\n10.20.0.9,1500\n');
    expect(await run([badHeader, out, '--context', 'default', '--reason', 'C'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: header: no time column .* \(HTTP 400\)\n$/),
    });
    expect(await run([CSV_IN, out, '--context', 'default', '--reason', ''])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: reason: /),
    });
    expect(
      await attribute([CSV_IN, out, '--context', 'default', '--reason', 'C', '--url', url], { database: noDatabase }),
    ).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: token: the server needs an API token/) });
    expect(
      await attribute([CSV_IN, out, '--context', 'default', '--reason', 'C', '--url', 'ftp://x', '--token', 't'], {
        database: noDatabase,
      }),
    ).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: url: must be http:\/\/ or https:\/\//) });
    // Nothing listens on port 1.
    expect(
      await attribute(
        [CSV_IN, out, '--context', 'default', '--reason', 'C', '--url', 'http://127.0.0.1:1', '--token', ADMIN_TOKEN],
        { database: noDatabase },
      ),
    ).toMatchObject({ code: 1, stderr: 'error: cannot reach http://127.0.0.1:1: ECONNREFUSED\n' });
    expect(existsSync(out)).toBe(false);
    expect(await loggedWith('C')).toEqual([]);
  });

  it('runs as its own process: answers on stdout, the summary on stderr, no database opened', async () => {
    // A data directory it would create if it opened the embedded database.
    const dataDir = join(dir, 'never-opened');
    const env = childEnv({ DATA_DIR: dataDir, IPDR_TOKEN: ADMIN_TOKEN });
    delete env.DATABASE_URL;
    const args = [CSV_IN, '--context', 'default', '--reason', 'CASE-HTTP-3', '--timezone', 'UTC', '--url', url];
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['bin/ipdr-admin.mjs', 'attribute', ...args],
      { env },
    );
    expectFlowsAnswer(stdout);
    expect(stderr.split('\n').slice(0, 5)).toEqual(SUMMARY);
    expect(existsSync(dataDir)).toBe(false);
  });
});
