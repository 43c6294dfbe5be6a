// Writes schema.graphql from the code-first schema (sorted); test/schema-file.test.ts fails when
// the committed file is stale. Needs no database: the schema holds none.
import { writeFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { schema } from '../src/schema/index.js';

writeFileSync(new URL('../schema.graphql', import.meta.url), `${printSchema(schema)}\n`);
