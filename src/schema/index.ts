import { lexicographicSortSchema } from 'graphql';
import { builder } from '../builder.js';
import './scalars.js';
import './errors.js';
import './customer.js';
import './mapping.js';
import './audit.js';
import './access.js';
import './lookups.js';
import { guardArguments } from './argument-errors.js';

export const schema = guardArguments(lexicographicSortSchema(builder.toSchema()));
