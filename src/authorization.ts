import type { AuthFailure } from '@pothos/plugin-scope-auth';
import type { RequestContext } from './context.js';

/**
 * What each scope means. Query fields need `tenantRead`, Mutation fields `tenantWrite` (set on
 * the types, so a new field is guarded by default); admin fields opt out and need `admin`.
 */
export function authScopes(ctx: RequestContext) {
  const tenant = 'tenant' in ctx.tenantChoice ? ctx.tenantChoice.tenant : null;
  return {
    tenantRead: tenant !== null,
    tenantWrite: tenant?.canWrite === true,
    admin: ctx.caller.isAdmin,
    adminWrite: ctx.caller.isAdmin && !ctx.caller.readOnly,
  };
}

export type AuthScopes = ReturnType<typeof authScopes>;

function failedScope(failure: AuthFailure): string | null {
  if (failure.kind === 'AuthScope') return failure.scope;
  if (failure.kind === 'AnyAuthScopes' || failure.kind === 'AllAuthScopes') {
    for (const inner of failure.failures) {
      const scope = failedScope(inner);
      if (scope) return scope;
    }
  }
  return null;
}

/** Why the caller may not do this, in words that say what to change. */
export function refusal(ctx: RequestContext, failure: AuthFailure): string {
  const { caller, tenantChoice } = ctx;
  const scope = failedScope(failure);
  if ('problem' in tenantChoice && (scope === 'tenantRead' || scope === 'tenantWrite')) return tenantChoice.message;
  if (scope === 'tenantWrite' || scope === 'adminWrite') {
    if (caller.readOnly) return 'This API token is read-only';
    if (scope === 'tenantWrite' && 'tenant' in tenantChoice) {
      return `The user (${caller.username}) may only read in the context ${tenantChoice.tenant.name}`;
    }
  }
  if (scope === 'admin' || scope === 'adminWrite') return `The user (${caller.username}) is not an admin`;
  return 'Not authorized';
}
