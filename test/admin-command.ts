import { runAdminCommand } from '../src/cli/admin.js';
import { db } from './setup/app.js';

/** An ipdr-admin command run in this process on the test database, with what it wrote and its exit status. */
export async function adminInProcess(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runAdminCommand(db, ['node', 'ipdr-admin', ...args], {
    out: (line) => (stdout += `${line}\n`),
    err: (text) => (stderr += text),
  });
  return { code, stdout, stderr };
}
