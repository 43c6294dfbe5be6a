import type { YogaInitialContext } from 'graphql-yoga';
import { createLoaders, type Loaders } from './loaders.js';
import { type Tenant, findTenant } from './tenants.js';

/** Who acted, as the audit trail records it. */
export interface Actor {
  name: string;
  channel: 'graphql';
}

/** Built fresh for every request. */
export interface RequestContext {
  tenant: Tenant;
  actor: Actor;
  loaders: Loaders;
}

// Until contexts and users are granted per token, every request acts in `default`.
const DEFAULT_CONTEXT = 'default';

export async function createRequestContext(_initial: YogaInitialContext): Promise<RequestContext> {
  const tenant = await findTenant(DEFAULT_CONTEXT);
  return { tenant, actor: { name: 'anonymous', channel: 'graphql' }, loaders: createLoaders(tenant) };
}
