import type { AuthFailure } from '@pothos/plugin-scope-auth';
import type { RequestContext } from '../context.js';
import type { RefusalReason } from './types.js';

/**
 * What each scope means: reading in the request's context, changing it, and managing contexts,
 * users and tokens (admins; changes also need a writable token).
 */
export function authScopes(ctx: RequestContext) {
  const tenant = 'tenant' in ctx.tenantChoice ? ctx.tenantChoice.tenant : null;
  return {
    caller: true,
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

/** Why the caller may not do this, in words that say what to change, and as a code for programs. */
export function refusal(ctx: RequestContext, failure: AuthFailure): { message: string; reason: RefusalReason } {
  const { caller, tenantChoice } = ctx;
  const scope = failedScope(failure);
  if ('problem' in tenantChoice && (scope === 'tenantRead' || scope === 'tenantWrite')) {
    return { message: tenantChoice.message, reason: tenantChoice.problem };
  }
  if (scope === 'tenantWrite' || scope === 'adminWrite') {
    if (caller.readOnly) return { message: 'This API token is read-only', reason: 'read-only-token' };
    if (scope === 'tenantWrite' && 'tenant' in tenantChoice) {
      return {
        message: `The user (${caller.username}) may only read in the context ${tenantChoice.tenant.name}`,
        reason: 'read-only-context',
      };
    }
  }
  if (scope === 'admin' || scope === 'adminWrite') {
    return { message: `The user (${caller.username}) is not an admin`, reason: 'not-admin' };
  }
  return { message: 'Not authorized', reason: 'not-authorized' };
}

/** Scope options for root fields, spread into a field's options. */
export const needs = {
  tenantRead: { authScopes: { tenantRead: true } },
  tenantWrite: { authScopes: { tenantWrite: true } },
  admin: { authScopes: { admin: true } },
  adminWrite: { authScopes: { adminWrite: true } },
  /** Any authenticated caller (authentication happens for every request, in authentication.ts). */
  caller: { authScopes: { caller: true } },
} as const;
