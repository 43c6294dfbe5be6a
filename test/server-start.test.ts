import { childEnv } from './setup/child-env.js';
import { databaseUrl } from './setup/app.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { post } from './server-process.js';
import { ADMIN_TOKEN } from './setup/credentials.js';

// Starting the real server process while PostgreSQL is not there: it waits a bounded time for
// it, logging each retry, then gives up with one line and no stack trace.

const startArgs = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start
  .split(' ')
  .slice(1);

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// As test/server-process.ts allows: on a loaded 2-core machine compiling and starting the server
// can take 35 s. (vitest.config.ts gives each test 180 s.)
const START_TIMEOUT_MS = 90_000;

/** Runs the server to its exit (bounded: it is killed after START_TIMEOUT_MS, which fails the test). */
async function runToExit(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, startArgs, {
    env: childEnv({ DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  let killed = false;
  const killer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, START_TIMEOUT_MS);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  if (killed) throw new Error(`server did not exit in ${START_TIMEOUT_MS} ms:\n${stdout}${stderr}`);
  return { code, stdout, stderr };
}

describe('start with PostgreSQL unreachable', () => {
  it('retries for DATABASE_CONNECT_TIMEOUT_MS, logging each retry as a JSON line, then exits 1 with one clear line', async () => {
    const port = await closedPort();
    const { code, stdout, stderr } = await runToExit({
      DATABASE_URL: `postgres://someone:secret-password@127.0.0.1:${port}/ipdr`,
      DATABASE_CONNECT_TIMEOUT_MS: '1500',
    });
    expect(code).toBe(1);
    const retries = stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(retries.length).toBeGreaterThanOrEqual(2);
    for (const [index, line] of retries.entries()) {
      expect(line).toMatchObject({ level: 40, msg: 'database not reachable yet, retrying', attempt: index + 1 });
      expect(line.error).toContain('ECONNREFUSED');
    }
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^cannot reach the database at 127\\.0\\.0\\.1:${port}/ipdr after \\d+ attempts in 1500 ms \\(.*ECONNREFUSED.*\\); set DATABASE_CONNECT_TIMEOUT_MS to wait longer$`,
        ),
      ),
    ]);
    expect(stdout + stderr).not.toMatch(/\n\s+at |\.ts:\d+|secret-password/);
  });

  it('with DATABASE_CONNECT_TIMEOUT_MS=0 tries once', async () => {
    const port = await closedPort();
    const { code, stdout, stderr } = await runToExit({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/ipdr`,
      DATABASE_CONNECT_TIMEOUT_MS: '0',
    });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^cannot reach the database at 127\.0\.0\.1:\d+\/ipdr after 1 attempt in 0 ms \(/);
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)(
    'starts once PostgreSQL begins accepting connections within the time',
    async () => {
      const CONNECT_TIMEOUT_MS = 30_000;
      // PostgreSQL "comes up" late: a port that starts forwarding to it once the server has
      // logged its first retry.
      const target = new URL(databaseUrl!);
      const port = await closedPort();
      const url = new URL(target);
      url.host = `127.0.0.1:${port}`;
      const sockets: Socket[] = [];
      let proxy: Server | undefined;
      const child = spawn(process.execPath, startArgs, {
        env: {
          ...childEnv(),
          PORT: '0',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
          NODE_ENV: 'test',
          DATABASE_URL: url.toString(),
          // Time enough for a loaded machine to notice the first retry and open the port.
          DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stderr.on('data', (chunk) => (output += chunk));
      try {
        const graphqlUrl = await new Promise<string>((resolve, reject) => {
          // Start-up as server-process.ts allows it, plus the time it may spend retrying.
          const timer = setTimeout(
            () => reject(new Error(`server did not start:\n${output}`)),
            START_TIMEOUT_MS + CONNECT_TIMEOUT_MS,
          );
          child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
          child.stdout.on('data', (chunk) => {
            output += chunk;
            if (!proxy && output.includes('database not reachable yet, retrying')) {
              proxy = createServer((client) => {
                const upstream = connect(Number(target.port || 5432), target.hostname);
                sockets.push(client, upstream);
                client.pipe(upstream).pipe(client);
                client.on('error', () => upstream.destroy());
                upstream.on('error', () => client.destroy());
              }).listen(port, '127.0.0.1');
            }
            const match = /listening on (http:\/\/[\d.]+:\d+\/graphql)/.exec(output);
            if (match) {
              clearTimeout(timer);
              resolve(match[1]!);
            }
          });
        });
        expect(proxy).toBeDefined();
        const answer = await post(
          { process: child, url: graphqlUrl, output: () => output },
          ADMIN_TOKEN,
          '{ contexts { name } }',
        );
        expect(answer.body.data).toEqual({ contexts: [{ name: 'default' }] });
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        expect((await exited)[0]).toBe(0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
      }
    },
  );
});
