import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from './setup/credentials.js';

// Runs the real server (src/server.ts) on a file-backed embedded database, twice.

const dataDir = mkdtempSync(join(tmpdir(), 'ipdr-restart-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface RunningServer {
  process: ChildProcess;
  url: string;
  output: () => string;
}

async function startServer(): Promise<RunningServer> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    IPDR_ADMIN_TOKEN: ADMIN_TOKEN,
  };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
    child.stdout!.on('data', () => {
      const match = /listening on (http:\/\/[\d.]+:\d+\/graphql)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  return { process: child, url, output: () => output };
}

async function stopServer(server: RunningServer): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => server.process.once('exit', resolve));
  server.process.kill('SIGTERM');
  return exited;
}

async function post(server: RunningServer, query: string) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data: any };
}

describe('embedded database across a restart', () => {
  it('keeps everything written before the restart', async () => {
    const first = await startServer();
    expect(first.output()).toContain('applied migrations');
    const created = await post(
      first,
      `mutation {
        c: createCustomer(input: { userId: "U1", name: "Kept", email: "kept@example.net" }) { __typename }
        m: createMapping(input: { userId: "U1", ipsubnet: "2001:db8::/48", starttime: 100, terminalId: "T1" }) { __typename }
      }`,
    );
    expect(created.data).toEqual({ c: { __typename: 'Customer' }, m: { __typename: 'IpMapping' } });
    expect(await stopServer(first)).toBe(0);

    const second = await startServer();
    try {
      expect(second.output()).not.toContain('applied migrations');
      const read = await post(
        second,
        `{ customer(userId: "U1") { name email mappings { ipsubnet starttime terminalId } }
           whoHad(ip: "2001:db8::5", at: 200) { customer { userId } }
           auditEvents { totalCount } }`,
      );
      expect(read.data).toEqual({
        customer: {
          name: 'Kept',
          email: 'kept@example.net',
          mappings: [{ ipsubnet: '2001:db8::/48', starttime: 100, terminalId: 'T1' }],
        },
        whoHad: { customer: { userId: 'U1' } },
        auditEvents: { totalCount: 2 },
      });
    } finally {
      expect(await stopServer(second)).toBe(0);
    }
  });
});
