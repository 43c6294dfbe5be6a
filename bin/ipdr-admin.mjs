#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, wherever it is called from.
import { register } from 'tsx/esm/api';

register();
const { runAdmin } = await import('../src/cli/admin.ts');
await runAdmin(process.argv, process.env);
