// Data directories for the servers and CLIs a test starts on the embedded database.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';

/**
 * A new data directory, as a first start finds it once PGlite has initialised it: a copy of the
 * empty cluster test/setup/global.ts made, so that the process skips initdb but migrates and
 * bootstraps as on any first start. Removed with `removeDataDir`.
 */
export function newDataDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  cpSync(inject('pgliteEmptyCluster'), dir, { recursive: true });
  return dir;
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
