import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../src/access/store.js';
import { checkContextName } from '../../src/domain/names.js';
import { endOfSecond } from '../../src/domain/system-time.js';
import { nowUnixTime } from '../../src/domain/time.js';
import { adminInProcess } from '../admin-command.js';
import { createCustomer, createMapping, graphqlData, resetData } from '../helpers.js';
import { db, prisma, yoga } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// ipdr-admin case export: what was answered under a case reference, derived again as the records
// stood when each lookup was made, after the records were corrected since; each entry checked
// against its digests, and a log altered afterwards reported.

const dir = mkdtempSync(join(tmpdir(), 'ipdr-case-'));
const ADDRESS = '10.88.0.9';
let mappingId = 0;
let askedAsOf = 0;

const exported = (path: string) => parse(readFileSync(path, 'utf8'), { columns: true }) as Record<string, string>[];

/** Waits for the next second: what is written from here on is not known as at the seconds before. */
async function nextSecond() {
  const second = nowUnixTime();
  while (nowUnixTime() === second) await new Promise((resolve) => setTimeout(resolve, 20));
}

beforeAll(async () => {
  await resetData();
  await createCustomer('U-1', 'First Holder');
  mappingId = (await createMapping({ userId: 'U-1', ipsubnet: ADDRESS, starttime: 100 })).id;
  await nextSecond();
  askedAsOf = nowUnixTime();
  // One request each, so that the log's entries follow in this order.
  await graphqlData(`{ whoHad(ip: "${ADDRESS}", at: 150, reason: "CASE-EX") { id } }`);
  await graphqlData(`{ whoHadMany(ips: ["${ADDRESS}", "10.99.0.1"], ats: [150, 150], reason: "CASE-EX") { id } }`);
  await graphqlData(`{ ipHistory(ip: "${ADDRESS}", from: 0, to: 500, reason: "CASE-EX") { totalCount } }`);
  const attributed = await yoga.fetch('http://ipdr.test/attribute?reason=CASE-EX', {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' },
    body: `ip,time\n${ADDRESS},150\n${ADDRESS},50\n`,
  });
  expect(attributed.status).toBe(200);
  await attributed.text();
  // The correction comes in a later second than every lookup above: at 150 nobody held it since.
  await nextSecond();
  const corrected = await graphqlData(
    `mutation { updateMapping(id: ${mappingId}, input: { starttime: 200 }) { __typename } }`,
  );
  expect(corrected.updateMapping.__typename).toBe('IpMapping');
  await graphqlData(`{ whoHad(ip: "${ADDRESS}", at: 150, asOf: ${askedAsOf}, reason: "CASE-EX") { id } }`);
  expect((await graphqlData(`{ whoHad(ip: "${ADDRESS}", at: 150) { id } }`)).whoHad).toBeNull();
});

describe('ipdr-admin case export', () => {
  it('writes every lookup of the case with its answer as the records then gave it, each entry checked', async () => {
    const file = join(dir, 'case.csv');
    const result = await adminInProcess('case', 'export', 'CASE-EX', file);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.split('\n')).toEqual([
      'case CASE-EX (every context): 5 log entries, 7 lookups',
      '  matching their logged digests: 4',
      '  NOT matching their logged digests: 0',
      '  logged before the log kept digests (derived again, unchecked): 0',
      '  not derived again: 1 (ipHistory, whose pages are not logged, or made before versions were kept)',
      '',
    ]);
    const rows = exported(file);
    const brief = rows.map((row) => [row.operation, row.check, row.ip, row.at, row.answer, row.userid, row.name]);
    expect(brief).toEqual([
      ['whoHad', 'match', ADDRESS, '150', 'held', 'U-1', 'First Holder'],
      ['whoHadMany', 'match', ADDRESS, '150', 'held', 'U-1', 'First Holder'],
      ['whoHadMany', 'match', '10.99.0.1', '150', 'none', '', ''],
      ['ipHistory', 'not-rederived', ADDRESS, '', '', '', ''],
      ['attribute', 'match', ADDRESS, '150', 'held', 'U-1', 'First Holder'],
      ['attribute', 'match', ADDRESS, '50', 'none', '', ''],
      ['whoHad', 'match', ADDRESS, '150', 'held', 'U-1', 'First Holder'],
    ]);
    // The holder as it then stood: its mapping from 100, though it starts at 200 now.
    expect(rows[0]).toMatchObject({
      context: 'default',
      channel: 'graphql',
      username: 'admin',
      mapping_id: String(mappingId),
      ipsubnet: ADDRESS,
      starttime: '100',
      lookup: '1',
    });
    expect(rows[3]).toMatchObject({ from: '0', to: '500', known_at: '' });
    expect(rows[4]!.channel).toBe('attribute');
    // Answered as known at the instant each was logged, or at the end of the second it asked for.
    expect(rows[0]!.known_at).toBe(rows[0]!.logged_at);
    expect(rows[0]!.logged_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(rows[6]!.known_at).toBe(endOfSecond(askedAsOf).sql);
    const entries = new Set(rows.map((row) => row.entry));
    expect(entries.size).toBe(5);
  });

  it('writes the CSV to standard output without FILE, the summary to standard error', async () => {
    const result = await adminInProcess('case', 'export', 'CASE-EX', '--context', 'default');
    expect(result.code).toBe(0);
    expect(parse(result.stdout, { columns: true })).toHaveLength(7);
    expect(result.stderr).toMatch(/^case CASE-EX \(context default\): 5 log entries, 7 lookups\n/);
  });

  it('refuses a case nothing was logged under, and writes no file', async () => {
    await createContext(db, checkContextName('elsewhere'));
    const file = join(dir, 'none.csv');
    expect(await adminInProcess('case', 'export', 'CASE-EX', file, '--context', 'elsewhere')).toMatchObject({
      code: 1,
      stderr: 'error: case CASE-EX not found\n',
    });
    expect(await adminInProcess('case', 'export', 'CASE-NONE', file)).toMatchObject({ code: 1 });
    expect(existsSync(file)).toBe(false);
  });

  it('derives again, unchecked, what was logged before the log kept digests', async () => {
    await prisma.lookupLogEntry.create({
      data: {
        contextId: 1,
        username: 'admin',
        channel: 'graphql',
        operation: 'whoHadMany',
        reason: 'CASE-OLD',
        lookups: 1,
        detail: { asked: [{ ip: ADDRESS, at: 250 }], complete: true },
      },
    });
    const file = join(dir, 'old.csv');
    const result = await adminInProcess('case', 'export', 'CASE-OLD', file);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('logged before the log kept digests (derived again, unchecked): 1');
    expect(exported(file).map((row) => [row.check, row.answer, row.starttime])).toEqual([['no-digest', 'held', '200']]);
  });

  it('reports every entry whose log was altered since, and fails', async () => {
    await prisma.$executeRaw`UPDATE lookup_log SET detail = jsonb_set(detail, '{asked,0,at}', '160')
      WHERE reason = 'CASE-EX' AND operation = 'whoHadMany'`;
    await prisma.$executeRaw`UPDATE lookup_log SET answer = '{"mappingId": 1, "userId": "U-2", "nat": null}'
      WHERE id = (SELECT min(id) FROM lookup_log WHERE reason = 'CASE-EX' AND operation = 'whoHad')`;
    const ids = await prisma.lookupLogEntry.findMany({
      where: { reason: 'CASE-EX', operation: { in: ['whoHad', 'whoHadMany'] } },
      orderBy: { id: 'asc' },
      select: { id: true },
    });
    const [single, many] = ids.map((entry) => String(entry.id));
    const file = join(dir, 'altered.csv');
    const result = await adminInProcess('case', 'export', 'CASE-EX', file);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`  NOT matching their logged digests: 2 (entries ${single}, ${many})`);
    expect(result.stderr).toBe(
      `error: 2 of 5 log entries of case CASE-EX do not match their logged digests (entries ${single}, ${many})\n`,
    );
    const checks = exported(file).map((row) => [row.entry, row.check]);
    expect(checks).toContainEqual([single, 'answers-differ']);
    expect(checks).toContainEqual([many, 'request-differs']);
  });
});
