import type { Caller, TenantChoice } from './types.js';

/** The context a request without one named acts in, when the caller may use it (Trisul's default). */
export const DEFAULT_CONTEXT = 'default';

/**
 * Picks the context for a request: the one named (X-Context header), else `default` when the
 * caller may use it, else the caller's only one, so that a client written against one context
 * keeps working the day another is added. Trisul's wording is kept for the refusals, which legacy
 * callers match on. A read-only token never writes, whatever the grant says.
 */
export function chooseTenant(caller: Caller, requested: string | null): TenantChoice {
  const grant =
    requested === null
      ? (caller.grants.find((g) => g.contextName === DEFAULT_CONTEXT) ??
        (caller.grants.length === 1 ? caller.grants[0] : undefined))
      : caller.grants.find((g) => g.contextName === requested);
  if (grant) {
    return { tenant: { id: grant.contextId, name: grant.contextName, canWrite: grant.canWrite && !caller.readOnly } };
  }
  if (requested !== null) {
    return {
      problem: 'not-allowed',
      message: `The user (${caller.username}) is not allowed to access the context ${requested}`,
    };
  }
  if (caller.grants.length === 0) {
    return { problem: 'no-contexts', message: `The user (${caller.username}) has no access to any context` };
  }
  return {
    problem: 'context-required',
    message: `Name a context in the X-Context header; ${caller.username} may use ${caller.grants.map((g) => g.contextName).join(', ')}`,
  };
}
