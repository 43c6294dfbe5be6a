import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirInUseError, lockDataDir } from '../../src/db/data-dir-lock.js';

// The embedded database's lock: refused while another process really holds it, taken over from
// a process that is gone, whatever process now has its PID.

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
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

const HOLDER_TIMEOUT_MS = 90_000;

/** Another process holding the lock, as a second server would. */
async function holderProcess(dir: string): Promise<ChildProcess> {
  const script = `import { lockDataDir } from ${JSON.stringify(new URL('../../src/db/data-dir-lock.ts', import.meta.url).href)};
lockDataDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  // Bounded like a server start (test/server-process.ts): tsx compiling on a loaded 2-core
  // machine takes a while, but a holder that never locks is killed, not waited on forever.
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`lock holder did not lock in ${HOLDER_TIMEOUT_MS} ms; its output: ${out}`));
      }, HOLDER_TIMEOUT_MS);
      child.stdout!.on('data', () => out.includes('locked') && resolve());
      child.once('exit', (code, signal) => reject(new Error(`lock holder exited with ${code ?? signal}`)));
    });
  } finally {
    clearTimeout(timer);
  }
  return child;
}

describe.skipIf(process.platform !== 'linux')('data directory lock', () => {
  it('is refused while another process holds it, and taken over once that process is killed', async () => {
    const dir = dataDir();
    const holder = await holderProcess(dir);
    expect(() => lockDataDir(dir)).toThrow(DataDirInUseError);
    expect(() => lockDataDir(dir)).toThrow(`is in use by process ${holder.pid}; stop it first`);
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    // kill -9 leaves the lock file behind.
    expect(existsSync(lockFile(dir))).toBe(true);
    const release = lockDataDir(dir);
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8'))).toMatchObject({ pid: process.pid });
    release();
    expect(existsSync(lockFile(dir))).toBe(false);
  });

  it('is taken over from a lock naming a live but unrelated process (the PID was reused)', () => {
    const dir = dataDir();
    // The test runner's parent is alive, and did not write this lock: its start time differs.
    writeFileSync(lockFile(dir), JSON.stringify({ pid: process.ppid, start: '1', boot: bootId() }));
    lockDataDir(dir)();
    // A lock from before the last boot names a process of that boot.
    writeFileSync(lockFile(dir), JSON.stringify({ pid: 1, start: procStart(1), boot: 'another-boot' }));
    lockDataDir(dir)();
  });

  it("is taken over from a lock naming this process's own PID from before a container restart", () => {
    const dir = dataDir();
    writeFileSync(lockFile(dir), JSON.stringify({ pid: process.pid, start: '1', boot: bootId() }));
    lockDataDir(dir)();
    // An older lock holding a bare PID: ours, as PID 1 of a restarted container finds its own.
    writeFileSync(lockFile(dir), String(process.pid));
    lockDataDir(dir)();
  });

  it('is taken over from a lock naming a process that has exited, or holding no PID', () => {
    const dir = dataDir();
    writeFileSync(lockFile(dir), String(2 ** 22 + 1));
    lockDataDir(dir)();
    writeFileSync(lockFile(dir), '');
    lockDataDir(dir)();
  });

  it('is refused to a second open in the same process', () => {
    const dir = dataDir();
    const release = lockDataDir(dir);
    expect(() => lockDataDir(dir)).toThrow(`is in use by process ${process.pid}`);
    release();
    lockDataDir(dir)();
  });

  it('is refused for a lock its live writer wrote, its start time matching', () => {
    const dir = dataDir();
    writeFileSync(lockFile(dir), JSON.stringify({ pid: process.ppid, start: procStart(process.ppid), boot: bootId() }));
    expect(() => lockDataDir(dir)).toThrow(`is in use by process ${process.ppid}`);
  });
});
