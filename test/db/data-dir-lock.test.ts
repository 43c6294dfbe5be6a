import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DataDirInUseError,
  DataDirLockError,
  lockDataDir,
  lockFailed,
  lockFailureKind,
} from '../../src/db/data-dir-lock.js';
import { startServer } from '../server-process.js';

// The embedded database's lock is one the operating system holds for the open file: refused while
// another process holds it, free the moment that process is gone, and never decided by what the
// lock file says.

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dataDir() {
  const dir = mkdtempSync(join(tmpdir(), 'ipdr-lock-'));
  dirs.push(dir);
  return dir;
}

const lockFile = (dir: string) => join(dir, 'ipdr-gateway.lock');
const procStart = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
};
const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const inUseBy = (pid: number) => `is in use by process ${pid}; stop it first`;

const CHILD_TIMEOUT_MS = 90_000;

interface Locker {
  child: ChildProcess;
  /** Resolves once the child has loaded the lock's module. */
  ready: Promise<void>;
  /** Has the child lock `dir`: 'locked <pid>', with the PID it sees as its own, or 'refused <message>'. */
  lock(dir: string): Promise<string>;
}

/**
 * Another process locking directories when told to, as a second server would; it stays alive
 * (holding what it locked) until killed. Told at once, several of them race for one directory.
 */
function lockerProcess(wrapper: string[] = []): Locker {
  const script = `import { createInterface } from 'node:readline';
import { lockDataDir } from ${JSON.stringify(new URL('../../src/db/data-dir-lock.ts', import.meta.url).href)};
console.log('ready');
createInterface({ input: process.stdin }).on('line', (dir) => {
  try { lockDataDir(dir); console.log(dir + ' locked ' + process.pid); }
  catch (error) { console.log(dir + ' refused ' + error.message); }
});`;
  const [command, ...args] = [...wrapper, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script];
  const child = spawn(command!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let errors = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => (out += chunk));
  // Kept for a failure's message (unshare says something on stderr when its child is killed).
  child.stderr!.on('data', (chunk) => (errors += chunk));
  // Bounded like a server start (test/server-process.ts): tsx compiling on a loaded 2-core
  // machine takes a while, but a child that never answers is killed, not waited on forever.
  const line = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        child.off('exit', exited);
        reject(new Error(`the locking child ${why}; its output: ${out}${errors}`));
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(`did not answer in ${CHILD_TIMEOUT_MS} ms`);
      }, CHILD_TIMEOUT_MS);
      const exited = (code: number | null, signal: string | null) => fail(`exited with ${code ?? signal}`);
      const check = () => {
        const found = out.split('\n').find((text) => text.startsWith(prefix));
        if (found === undefined) return;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        child.off('exit', exited);
        resolve(found.slice(prefix.length));
      };
      child.stdout!.on('data', check);
      child.once('exit', exited);
      check();
    });
  const ready = line('ready').then(() => {});
  return {
    child,
    ready,
    lock: (dir) => {
      const answer = line(`${dir} `);
      child.stdin!.write(`${dir}\n`);
      return answer;
    },
  };
}

async function holderProcess(dir: string): Promise<ChildProcess> {
  const locker = lockerProcess();
  await locker.ready;
  expect(await locker.lock(dir)).toBe(`locked ${locker.child.pid}`);
  return locker.child;
}

async function kill(child: ChildProcess) {
  child.kill('SIGKILL');
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
}

describe.skipIf(process.platform !== 'linux')('data directory lock', () => {
  it('is refused, naming the holder, while another process holds it, and free once that process is killed', async () => {
    const dir = dataDir();
    const holder = await holderProcess(dir);
    expect(() => lockDataDir(dir)).toThrow(DataDirInUseError);
    expect(() => lockDataDir(dir)).toThrow(inUseBy(holder.pid!));
    // A holder that is stopped, not gone, still holds it.
    holder.kill('SIGSTOP');
    expect(() => lockDataDir(dir)).toThrow(inUseBy(holder.pid!));
    await kill(holder);
    // kill -9 leaves the lock file behind, and the lock with it is gone.
    expect(existsSync(lockFile(dir))).toBe(true);
    const release = lockDataDir(dir);
    expect(readFileSync(lockFile(dir), 'utf8')).toBe(`${process.pid}\n`);
    release();
    release();
    // Released, the file no longer holds anything: another process takes it.
    await kill(await holderProcess(dir));
  });

  it('is not blocked by a lock file naming a live unrelated process, in the old or the JSON format', async () => {
    const dir = dataDir();
    const unrelated = [1, process.ppid];
    const contents = unrelated.flatMap((pid) => [
      String(pid),
      JSON.stringify({ pid, start: procStart(pid), boot: bootId() }),
    ]);
    for (const content of contents) {
      writeFileSync(lockFile(dir), content);
      lockDataDir(dir)();
    }
    // Nor, in another process, by one naming this test runner, which is alive and holds nothing.
    writeFileSync(lockFile(dir), String(process.pid));
    const holder = await holderProcess(dir);
    expect(readFileSync(lockFile(dir), 'utf8')).toBe(`${holder.pid}\n`);
    await kill(holder);
  });

  it('is refused to a second open in the same process', () => {
    const dir = dataDir();
    const release = lockDataDir(dir);
    expect(() => lockDataDir(dir)).toThrow(inUseBy(process.pid));
    release();
    lockDataDir(dir)();
  });

  it('goes to exactly one of several processes that lock it at once, over a lock file left by a killed one', async () => {
    const lockers = Array.from({ length: 6 }, () => lockerProcess());
    await Promise.all(lockers.map((locker) => locker.ready));
    // Rounds, each on a directory of its own, for the race to have chances to go wrong.
    for (let round = 0; round < 10; round++) {
      const dir = dataDir();
      writeFileSync(lockFile(dir), String(2 ** 22 + 1));
      const outcomes = await Promise.all(lockers.map((locker) => locker.lock(dir)));
      const winners = lockers.filter((_, i) => outcomes[i]!.startsWith('locked'));
      expect(winners, `round ${round}:\n${outcomes.join('\n')}`).toHaveLength(1);
      const winner = winners[0]!.child.pid!;
      for (const outcome of outcomes.filter((outcome) => outcome.startsWith('refused'))) {
        // A loser may look before the winner has written its PID.
        expect(outcome).toMatch(new RegExp(`is in use by (process ${winner}|another process); stop it first`));
      }
      expect(() => lockDataDir(dir)).toThrow(inUseBy(winner));
    }
    await Promise.all(lockers.map((locker) => kill(locker.child)));
  });

  // Containers sharing a volume, each with its own PID namespace: both servers are PID 1.
  const pidNamespace = ['unshare', '--user', '--map-root-user', '--pid', '--fork', '--mount-proc', '--kill-child'];
  const canUnshare = spawnSync(pidNamespace[0]!, [...pidNamespace.slice(1), 'true']).status === 0;
  it.runIf(canUnshare)('tells apart two processes that are both PID 1 in their own PID namespaces', async () => {
    const dir = dataDir();
    const [first, second, third] = [
      lockerProcess(pidNamespace),
      lockerProcess(pidNamespace),
      lockerProcess(pidNamespace),
    ];
    await Promise.all([first.ready, second.ready, third.ready]);
    expect(await first.lock(dir)).toBe('locked 1');
    // PID 1 in the file is not this one, which is PID 1 too.
    expect(await second.lock(dir)).toMatch(/^refused .*is in use by another process; stop it first/);
    // Killed itself, not only unshare around it; unshare exits once it has reaped it.
    const [inner] = readFileSync(`/proc/${first.child.pid}/task/${first.child.pid}/children`, 'utf8').trim().split(' ');
    process.kill(Number(inner), 'SIGKILL');
    await once(first.child, 'exit');
    expect(await third.lock(dir)).toBe('locked 1');
    await Promise.all([kill(second.child), kill(third.child)]);
  });
});

describe('a lock that fails for another reason than a holder', () => {
  const errno = (code: string) => Object.assign(new Error(`${code}: the system's words`), { code });

  it('takes EAGAIN, EACCES and EBUSY (Windows LockFileEx) for a holder, and nothing else', () => {
    for (const code of ['EAGAIN', 'EWOULDBLOCK', 'EACCES', 'EBUSY']) expect(lockFailureKind(errno(code))).toBe('held');
    for (const code of ['ENOLCK', 'EINVAL', 'EISDIR', 'EBADF']) expect(lockFailureKind(errno(code))).toBe('failed');
    expect(lockFailureKind(new Error('no errno'))).toBe('failed');
    const wrapped = lockFailed('/data/ipdr-gateway.lock', errno('ENOLCK'));
    expect(wrapped).toBeInstanceOf(DataDirLockError);
    expect(wrapped.message).toMatch(
      /^cannot lock the embedded database's lock file \/data\/ipdr-gateway\.lock: ENOLCK \(/,
    );
  });

  it('is one error naming the lock file and the errno (a directory where the lock file goes: EISDIR)', () => {
    const dir = dataDir();
    mkdirSync(lockFile(dir));
    const error = (() => {
      try {
        lockDataDir(dir);
      } catch (failure) {
        return failure;
      }
      return expect.unreachable('a directory cannot be locked as the lock file');
    })();
    expect(error).toBeInstanceOf(DataDirLockError);
    expect((error as Error).message).toMatch(
      new RegExp(`^cannot lock the embedded database's lock file ${lockFile(dir).replace(/[.]/g, '\\.')}: EISDIR \\(`),
    );
    // Nothing is held: once the directory is gone the lock is taken.
    rmSync(lockFile(dir), { recursive: true });
    lockDataDir(dir)();
  });

  it('is printed by the server as one line, and the server exits 1', async () => {
    const dir = dataDir();
    mkdirSync(lockFile(dir));
    const failure = await startServer({ DATA_DIR: dir, NODE_ENV: 'test' }).then(
      () => expect.unreachable('the server cannot lock its data directory'),
      (error: Error) => error.message,
    );
    expect(failure).toMatch(/^server exited with 1:\n/);
    const output = failure.replace(/^server exited with 1:\n/, '').trim();
    expect(output).toMatch(
      /^cannot lock the embedded database's lock file .*: EISDIR \(.*\); put DATA_DIR on a local filesystem with file locks$/,
    );
  });
});
