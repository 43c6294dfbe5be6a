import { childEnv } from './setup/child-env.js';
import { databaseUrl } from './setup/app.js';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { database } from './setup/app.js';
import { yoga } from './setup/app.js';

// The CLI runs as its own process: on PostgreSQL it shares this test file's database (so its
// work can be checked through the API); on the embedded database it gets a directory of its own.
const dataDir = mkdtempSync(join(tmpdir(), 'ipdr-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const onPostgres = database.kind === 'postgresql';

async function admin(...args: string[]) {
  const env = childEnv({ DATABASE_URL: onPostgres ? databaseUrl : undefined, DATA_DIR: dataDir });
  if (!onPostgres) delete env.DATABASE_URL;
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/ipdr-admin.mjs', ...args], { env });
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('ipdr-admin', () => {
  it('creates a context, a user with a grant, and a token that is shown once', async () => {
    expect((await admin('contexts', 'create', 'isp7')).stdout).toBe('created context isp7\n');
    expect((await admin('users', 'create', 'noc')).stdout).toBe('created user noc\n');
    expect((await admin('users', 'grant', 'noc', 'isp7', '--write')).stdout).toBe(
      'noc may now read and write in isp7\n',
    );
    const created = await admin('tokens', 'create', 'noc', '--label', 'noc dashboard');
    const token = /token \(shown once, store it now\): (\S+)/.exec(created.stdout)?.[1];
    expect(token).toMatch(/^ipdr_/);

    const users = (await admin('users', 'list')).stdout;
    expect(users).toMatch(/noc\s+no\s+isp7\(rw\)/);
    const tokens = (await admin('tokens', 'list', 'noc')).stdout;
    expect(tokens).toContain(`ipdr_…${token!.slice(-4)}`);
    expect(tokens).toContain('noc dashboard');
    expect(tokens).not.toContain(token);

    if (onPostgres) {
      const response = await yoga.fetch('http://ipdr.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ contexts { name } }' }),
      });
      expect(await response.json()).toEqual({ data: { contexts: [{ name: 'isp7' }] } });
    }

    const id = /^(\d+)\s+noc/m.exec(tokens)?.[1];
    expect((await admin('tokens', 'revoke', id!)).stdout).toBe(`revoked token ${id} of noc\n`);
    expect((await admin('tokens', 'list', 'noc')).stdout).toMatch(/\d{4}-\d\d-\d\dT/);
  });

  it("registers a legacy caller's existing token without printing it", async () => {
    await admin('users', 'create', 'trisul-job');
    const result = await admin('tokens', 'create', 'trisul-job', '--token', 'abcdefghij0123456789KLMN', '--read-only');
    expect(result.stdout).toMatch(/^created token \d+ for trisul-job \(read-only\)\n$/);
  });

  it('says what is wrong and exits non-zero', async () => {
    expect(await admin('users', 'grant', 'ghost', 'default')).toMatchObject({
      code: 1,
      stderr: 'error: user ghost not found\n',
    });
    expect(await admin('contexts', 'create', 'bad name')).toMatchObject({
      code: 1,
      stderr: 'error: name: must be 1-64 letters, digits, _ or -\n',
    });
    expect((await admin('tokens', 'revoke', 'x')).stderr).toMatch(/not a token id/);
    expect((await admin('tokens', 'create', 'noc', '--token', 'short')).stderr).toBe(
      'error: token: must be at least 20 characters\n',
    );
  });
});
