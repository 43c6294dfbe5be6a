import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TABLES } from '../../src/db/columns.js';
import { prisma } from '../setup/app.js';

// Prisma's schema engine cannot run here, so nothing else compares the hand-written migrations
// with prisma/schema.prisma. This reads the schema's models and checks each scalar field against
// the migrated database's columns: name, type and nullability. Raw statements name tables and
// columns through src/db/columns.ts: its names must be the schema's and the database's.

interface SchemaField {
  model: string;
  table: string;
  field: string;
  column: string;
  type: string;
  nativeType: string | undefined;
  optional: boolean;
}

const scalarTypes = new Set(['Int', 'BigInt', 'String', 'Boolean', 'DateTime', 'Json', 'Decimal', 'Float', 'Bytes']);

function readSchemaFields(schema: string): SchemaField[] {
  const fields: SchemaField[] = [];
  for (const [, model, body] of schema.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)) {
    const table = /@@map\("([^"]+)"\)/.exec(body!)?.[1] ?? model!;
    for (const line of body!.split('\n')) {
      const match = /^\s+(\w+)\s+(\w+)(\?|\[\])?(.*)$/.exec(line);
      if (!match || !scalarTypes.has(match[2]!) || match[3] === '[]') continue;
      const [, field, type, modifier, attributes] = match;
      fields.push({
        model: model!,
        table,
        field: field!,
        column: /@map\("([^"]+)"\)/.exec(attributes!)?.[1] ?? field!,
        type: type!,
        nativeType: /@db\.(\w+)/.exec(attributes!)?.[1],
        optional: modifier === '?',
      });
    }
  }
  return fields;
}

// PostgreSQL's udt_name for each Prisma type (native type first, then Prisma's default).
function expectedColumnType(field: SchemaField): string {
  const native: Record<string, string> = {
    Inet: 'inet',
    Timestamptz: 'timestamptz',
    Text: 'text',
    JsonB: 'jsonb',
    Char: 'bpchar',
    SmallInt: 'int2',
  };
  if (field.nativeType) return native[field.nativeType] ?? field.nativeType.toLowerCase();
  const defaults: Record<string, string> = {
    Int: 'int4',
    BigInt: 'int8',
    String: 'text',
    Boolean: 'bool',
    DateTime: 'timestamp',
    Json: 'jsonb',
    Decimal: 'numeric',
    Float: 'float8',
    Bytes: 'bytea',
  };
  return defaults[field.type]!;
}

describe('schema drift', () => {
  const fields = readSchemaFields(readFileSync(new URL('../../prisma/schema.prisma', import.meta.url), 'utf8'));

  it('reads the models of prisma/schema.prisma', () => {
    expect(new Set(fields.map((field) => field.model))).toEqual(
      new Set([
        'Context',
        'Customer',
        'IpMapping',
        'AuditEvent',
        'ApiUser',
        'ApiGrant',
        'ApiToken',
        'LookupLogEntry',
        'MappingPrefixLength',
        'RadiusSession',
        'RadiusConflict',
        'NatPortBlock',
        'NatRule',
        'NatUnparsableLine',
        'RetentionPolicy',
        'RetentionPurge',
      ]),
    );
  });

  const readColumns = () =>
    prisma.$queryRawUnsafe<{ table_name: string; column_name: string; udt_name: string; is_nullable: string }[]>(
      'SELECT table_name, column_name, udt_name, is_nullable FROM information_schema.columns WHERE table_schema = current_schema()',
    );

  // Each model's table and field→column names as src/db/columns.ts declares them.
  const declared = Object.entries(TABLES).flatMap(([model, names]) =>
    Object.entries(names.columns as Record<string, string>).map(([field, column]) => ({
      model,
      table: names.table,
      field,
      column,
    })),
  );

  it('names in src/db/columns.ts the table and column of every field, as prisma/schema.prisma maps them', () => {
    const key = ({ model, table, field, column }: { model: string; table: string; field: string; column: string }) =>
      `${model}.${field} -> ${table}.${column}`;
    expect(declared.map(key).sort()).toEqual(fields.map(key).sort());
  });

  it('finds every table and column src/db/columns.ts names in the migrated database', async () => {
    const columns = new Set((await readColumns()).map((column) => `${column.table_name}.${column.column_name}`));
    const missing = declared
      .filter(({ table, column }) => !columns.has(`${table}.${column}`))
      .map(({ model, field, table, column }) => `${model}.${field}: no column ${table}.${column}`);
    expect(missing).toEqual([]);
  });

  it('has a column of a compatible type for every field of every model', async () => {
    const columns = await readColumns();
    const byName = new Map(columns.map((column) => [`${column.table_name}.${column.column_name}`, column]));
    const problems: string[] = [];
    for (const field of fields) {
      const column = byName.get(`${field.table}.${field.column}`);
      const where = `${field.model}.${field.field} (${field.table}.${field.column})`;
      if (!column) {
        problems.push(`${where}: no such column`);
        continue;
      }
      if (column.udt_name !== expectedColumnType(field)) {
        problems.push(`${where}: column is ${column.udt_name}, schema says ${expectedColumnType(field)}`);
      }
      if ((column.is_nullable === 'YES') !== field.optional) {
        problems.push(
          `${where}: column ${column.is_nullable === 'YES' ? 'allows' : 'forbids'} NULL, field is ${field.optional ? 'optional' : 'required'}`,
        );
      }
    }
    expect(problems).toEqual([]);
  });

  // The history triggers copy whole rows (system_versioning migration): a history table must have
  // its table's columns, of the same types and in the same order, then sys_to.
  it.each(['ipdr_customers', 'ipdr_customers_mapping', 'nat_port_blocks', 'nat_rules'])(
    'keeps %s_history column for column with its table',
    async (table) => {
      const columnsOf = async (name: string) =>
        (
          await prisma.$queryRawUnsafe<{ column_name: string; udt_name: string }[]>(
            'SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position',
            name,
          )
        ).map((column) => `${column.column_name} ${column.udt_name}`);
      expect(await columnsOf(`${table}_history`)).toEqual([...(await columnsOf(table)), 'sys_to timestamptz']);
    },
  );
});
