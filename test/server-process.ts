import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { TEST_SETTINGS } from './setup/child-env.js';

// Runs the real server (src/main.ts) as a child process, for what only a process shows:
// start-up, restarts, signals, stdout.

// As `npm start` runs it, node's flags included: package.json's start script is `node <args>`.
const startArgs = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start
  .split(' ')
  .slice(1);

const START_TIMEOUT_MS = 90_000;

export interface RunningServer {
  process: ChildProcess;
  url: string;
  output: () => string;
}

export async function startServer(env: NodeJS.ProcessEnv): Promise<RunningServer> {
  // Under vitest a server starts with the test settings; the bench's runs as deployed.
  const base = process.env.VITEST ? TEST_SETTINGS : {};
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...base,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...env,
  };
  if (!env.DATABASE_URL) delete childEnv.DATABASE_URL;
  // A test's server without a database of its own gets a new embedded one; under vitest it starts
  // from an initialised cluster (./setup/data-dir.ts) instead of paying for initdb.
  let ownDataDir: string | undefined;
  if (process.env.VITEST && !env.DATABASE_URL && env.DATA_DIR === undefined) {
    const { newDataDir } = await import('./setup/data-dir.js');
    ownDataDir = childEnv.DATA_DIR = newDataDir('ipdr-server');
  }
  const child = spawn(process.execPath, startArgs, {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (ownDataDir) {
    const dir = ownDataDir;
    child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: on a loaded 2-core machine compiling and opening the embedded database takes a
    // while. A server that did not start is stopped, so it holds no data directory afterwards.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start in ${START_TIMEOUT_MS} ms:\n${output}`));
    }, START_TIMEOUT_MS);
    // Removed once found: every later line would scan the whole output again (a bench's server
    // logs a line a request, and this process, its load generator, paid for it quadratically).
    const findListening = () => {
      const match = /listening on (http:\/\/[\d.]+:\d+\/graphql)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', findListening);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', findListening);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  return { process: child, url, output: () => output };
}

export async function stopServer(server: RunningServer): Promise<number | null> {
  if (server.process.exitCode !== null) return server.process.exitCode;
  const exited = new Promise<number | null>((resolve) => server.process.once('exit', resolve));
  server.process.kill('SIGTERM');
  return exited;
}

export async function post(server: RunningServer, token: string, query: string, headers: Record<string, string> = {}) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ query }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as { data?: any; errors?: any[] },
  };
}

/** The port the server logs in the line `msg` once a listener of its is bound (after HTTP listens). */
export async function listenerPort(server: RunningServer, msg: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const line = server
      .output()
      .split('\n')
      .find((text) => text.includes(`"msg":${JSON.stringify(msg)}`));
    if (line) return (JSON.parse(line) as { port: number }).port;
    if (Date.now() > deadline) throw new Error(`no "${msg}" line in:\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The UDP port of the server's RADIUS accounting listener. */
export const radiusPort = (server: RunningServer) => listenerPort(server, 'RADIUS accounting listening');
