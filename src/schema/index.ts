import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import './scalars.js';
import './errors.js';
import '../customers/schema.js';
import '../mappings/schema.js';
import '../audit/schema.js';
import '../access/schema.js';
import '../lookups/schema.js';
import '../radius/schema.js';
import '../nat/schema.js';
import '../feed/schema.js';
import { guardArguments } from './argument-errors.js';

export const schema = guardArguments(lexicographicSortSchema(builder.toSchema()));
