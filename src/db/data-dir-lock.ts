import { closeSync, ftruncateSync, openSync, readFileSync, realpathSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
}

/** The lock file could not be opened or locked for a reason other than another holder. */
export class DataDirLockError extends Error {
  override name = 'DataDirLockError';
}

/**
 * What a failed lock call means. Another open file holding the lock is EAGAIN to fcntl (which
 * tryLock answers as false) and may be EACCES (POSIX allows either); Windows' LockFileEx answers
 * EBUSY or EACCES. Anything else (ENOLCK or EINVAL on a filesystem without OFD locks, EISDIR, …)
 * says nothing about a holder.
 */
export function lockFailureKind(error: unknown): 'held' | 'failed' {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EBUSY' || code === 'EACCES' ? 'held' : 'failed';
}

/** One line for the operator: the file, the errno and what the system said. */
export function lockFailed(path: string, error: unknown): DataDirLockError {
  const { code, message } = error as NodeJS.ErrnoException;
  return new DataDirLockError(
    `cannot lock the embedded database's lock file ${path}: ${code ?? 'error'} (${message}); put DATA_DIR on a local filesystem with file locks`,
  );
}

// The package ships no types; this is the one call used.
const { tryLock } = createRequire(import.meta.url)('fs-native-extensions') as {
  /** An exclusive lock on the whole file: true when granted, false when another open file holds it. */
  tryLock(fd: number): boolean;
};

/** Directories this process holds: a second PGlite on one of them in this process would corrupt it too. */
const heldHere = new Set<string>();

/**
 * The PID the holder wrote, for the message only: nothing is decided by what the file says. Until
 * the holder has written it, the file names whoever held it before, so a PID that no process has
 * is not named. Nor is this process's PID: in the file it is a holder's in another PID namespace
 * (containers sharing a volume are both PID 1), or a previous holder's.
 */
function holderNamedIn(path: string): number | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    // Windows locks the file's bytes against other readers too.
    return null;
  }
  if (!/^[1-9]\d*$/.test(text) || Number(text) === process.pid) return null;
  const pid = Number(text);
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/**
 * PGlite's files belong to one process at a time; a second one (a CLI next to the server, say)
 * would corrupt them. Takes an exclusive lock on the directory's lock file, or says which process
 * holds it. The operating system holds the lock for the open file and drops it when that is
 * closed or its process ends however it ends (kill -9, a container stopped): no lock outlives
 * its holder, whatever PID or PID namespace the next process has, and of starters racing for it
 * exactly one gets it. Returns the release function.
 */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'ipdr-gateway.lock');
  const key = realpathSync(dataDir);
  const inUse = (pid: number | null) =>
    new DataDirInUseError(
      `the embedded database in ${dataDir} is in use by ${pid === null ? 'another process' : `process ${pid}`}; stop it first, or use that server's GraphQL API`,
    );
  if (heldHere.has(key)) throw inUse(process.pid);
  // Opened without truncating: a process that is refused must not erase the holder's PID.
  let fd: number;
  try {
    fd = openSync(path, 'a+');
  } catch (error) {
    throw lockFailed(path, error);
  }
  try {
    let locked: boolean;
    try {
      locked = tryLock(fd);
    } catch (error) {
      if (lockFailureKind(error) === 'failed') throw lockFailed(path, error);
      locked = false;
    }
    if (!locked) throw inUse(holderNamedIn(path));
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  heldHere.add(key);
  let released = false;
  return () => {
    // Once only: the fd's number may belong to another file after it is closed.
    if (released) return;
    released = true;
    heldHere.delete(key);
    // The file stays: unlocked, it holds nothing, and removing it would let a process that has
    // it open lock a file that the next starter no longer finds.
    closeSync(fd);
  };
}
