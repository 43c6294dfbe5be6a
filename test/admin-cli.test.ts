import { childEnv } from './setup/child-env.js';
import { databaseUrl, db } from './setup/app.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { database } from './setup/app.js';
import { yoga } from './setup/app.js';
import { newDataDir, removeDataDir } from './setup/data-dir.js';
import { adminInProcess } from './admin-command.js';

// The commands run in this process on the test file's own database (so their work can be
// checked through the API), through the same function the CLI's entry calls; the last test runs
// the real CLI process (bin/ipdr-admin.mjs), for what only it shows: its exit status and streams.
// On PostgreSQL that process shares this file's database; on the embedded one it gets a
// directory of its own.

const onPostgres = database.kind === 'postgresql';
const dataDir = onPostgres ? undefined : newDataDir('ipdr-cli');
afterAll(() => dataDir && removeDataDir(dataDir));

async function adminProcess(...args: string[]) {
  const env = childEnv({ DATABASE_URL: onPostgres ? databaseUrl : undefined, DATA_DIR: dataDir });
  if (!onPostgres) delete env.DATABASE_URL;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['bin/ipdr-admin.mjs', ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('ipdr-admin', () => {
  it('creates a context, a user with a grant, and a token that is shown once', async () => {
    expect((await adminInProcess('contexts', 'create', 'isp7')).stdout).toBe('created context isp7\n');
    expect((await adminInProcess('users', 'create', 'noc')).stdout).toBe('created user noc\n');
    expect((await adminInProcess('users', 'grant', 'noc', 'isp7', '--write')).stdout).toBe(
      'noc may now read and write in isp7\n',
    );
    const created = await adminInProcess('tokens', 'create', 'noc', '--label', 'noc dashboard');
    const token = /token \(shown once, store it now\): (\S+)/.exec(created.stdout)?.[1];
    expect(token).toMatch(/^ipdr_/);

    const users = (await adminInProcess('users', 'list')).stdout;
    expect(users).toMatch(/noc\s+no\s+isp7\(rw\)/);
    const tokens = (await adminInProcess('tokens', 'list', 'noc')).stdout;
    expect(tokens).toContain(`ipdr_…${token!.slice(-4)}`);
    expect(tokens).toContain('noc dashboard');
    expect(tokens).not.toContain(token);

    const response = await yoga.fetch('http://ipdr.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ contexts { name } }' }),
    });
    expect(await response.json()).toEqual({ data: { contexts: [{ name: 'isp7' }] } });

    const id = /^(\d+)\s+noc/m.exec(tokens)?.[1];
    expect((await adminInProcess('tokens', 'revoke', id!)).stdout).toBe(`revoked token ${id} of noc\n`);
    expect((await adminInProcess('tokens', 'list', 'noc')).stdout).toMatch(/\d{4}-\d\d-\d\dT/);
  });

  it("registers a legacy caller's existing token without printing it", async () => {
    await adminInProcess('users', 'create', 'trisul-job');
    const result = await adminInProcess(
      'tokens',
      'create',
      'trisul-job',
      '--token',
      'abcdefghij0123456789KLMN',
      '--read-only',
    );
    expect(result.stdout).toMatch(/^created token \d+ for trisul-job \(read-only\)\n$/);
  });

  it('says what is wrong and exits non-zero', async () => {
    expect(await adminInProcess('users', 'grant', 'ghost', 'default')).toMatchObject({
      code: 1,
      stderr: 'error: user ghost not found\n',
    });
    expect(await adminInProcess('contexts', 'create', 'bad name')).toMatchObject({
      code: 1,
      stderr: 'error: name: must be 1-64 letters, digits, _ or -\n',
    });
    expect((await adminInProcess('tokens', 'revoke', 'x')).stderr).toMatch(/not a token id/);
    expect((await adminInProcess('tokens', 'create', 'noc', '--token', 'short')).stderr).toBe(
      'error: token: must be at least 20 characters\n',
    );
  });

  it('runs as its own process: output on stdout, errors on stderr, and a non-zero exit status', async () => {
    expect(await adminProcess('contexts', 'create', 'isp9')).toMatchObject({
      code: 0,
      stdout: 'created context isp9\n',
      stderr: '',
    });
    expect(await adminProcess('users', 'grant', 'ghost', 'isp9')).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'error: user ghost not found\n',
    });
    expect(await adminProcess('tokens', 'revoke', 'x')).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/not a token id/),
    });
  });
});
