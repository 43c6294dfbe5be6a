import { linkSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
}

/** Who holds a lock: a PID alone names a process only while it lives, and PIDs are reused. */
interface Holder {
  pid: number;
  /** When the process started (clock ticks since boot, /proc/<pid>/stat); null where there is no /proc. */
  start: string | null;
  /** The kernel's boot id: the start time counts from this boot. */
  boot: string | null;
}

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat; the command name before it may hold spaces and parentheses. */
function startTimeOf(pid: number): string | null {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === null) return null;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

const bootId = () => readProc('/proc/sys/kernel/random/boot_id')?.trim() ?? null;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseHolder(text: string): Holder | null {
  // Locks written before the start time was recorded hold the PID alone.
  if (/^\d+$/.test(text.trim())) return { pid: Number(text), start: null, boot: null };
  try {
    const holder = JSON.parse(text) as Partial<Holder>;
    if (!Number.isInteger(holder.pid) || holder.pid! <= 0) return null;
    return { pid: holder.pid!, start: holder.start ?? null, boot: holder.boot ?? null };
  } catch {
    return null;
  }
}

/**
 * Whether the process that wrote the lock still runs. The PID alone is not enough: after a
 * container restart the server gets the same PID (often 1) it had when it wrote the lock, and
 * after a crash the PID may belong to any unrelated process. On Linux the process's start time
 * (and the boot it counts from) must match too.
 */
function holds(holder: Holder): boolean {
  if (!alive(holder.pid)) return false;
  const start = startTimeOf(holder.pid);
  if (holder.start !== null && start !== null) return holder.start === start && holder.boot === bootId();
  // Without a recorded start time only a PID other than ours can still be the writer (ours is
  // this process, which does not hold the lock: it is in a set below when it does).
  return holder.pid !== process.pid;
}

/** Directories this process holds: a second PGlite on one of them in this process would corrupt it too. */
const heldHere = new Set<string>();

/**
 * PGlite's files belong to one process at a time; a second one (a CLI next to the server, say)
 * would corrupt them. Takes the directory's lock file, or says which process holds it. A lock
 * left by a process that is gone (killed, or its container restarted) is taken over. Returns the
 * release function.
 */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'ipdr-gateway.lock');
  const key = realpathSync(dataDir);
  const inUse = (pid: number) =>
    new DataDirInUseError(
      `the embedded database in ${dataDir} is in use by process ${pid}; stop it first, or use that server's GraphQL API`,
    );
  if (heldHere.has(key)) throw inUse(process.pid);
  const me: Holder = { pid: process.pid, start: startTimeOf(process.pid), boot: bootId() };
  // Written whole, then linked into place (which fails if the lock exists): no other process
  // ever reads a lock that is half-written, and so mistakes it for a stale one.
  const draft = `${path}.${process.pid}`;
  writeFileSync(draft, JSON.stringify(me));
  try {
    for (;;) {
      try {
        linkSync(draft, path);
        heldHere.add(key);
        return () => {
          heldHere.delete(key);
          rmSync(path, { force: true });
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = parseHolder(readProc(path) ?? '');
        if (holder && holds(holder)) throw inUse(holder.pid);
        rmSync(path, { force: true });
      }
    }
  } finally {
    rmSync(draft, { force: true });
  }
}
