import { timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { SyncctlError } from '../../src/protocol/errors.ts';
import { idSchema } from '../../src/protocol/ids.ts';
import { parseInput } from '../../src/protocol/validation.ts';
import { getCompany } from '../services/companies.ts';
import { authenticateResource } from '../services/resources.ts';
import { authenticateSession } from '../services/sessions.ts';
import type { AppEnv } from './app-env.ts';

export const sessionCookie = 'syncctl_session';

export function bearerToken(c: Context): string | null {
  const header = c.req.header('authorization') ?? '';
  return header.startsWith('Bearer ') ? header.slice(7).trim() : null;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Identifies the caller: the admin token, or a user session from the cookie or bearer token. */
export function identifyCaller(adminToken: string): MiddlewareHandler<AppEnv> {
  return async function identifyCallerMiddleware(c, next) {
    const token = bearerToken(c) ?? getCookie(c, sessionCookie) ?? null;
    c.set('isAdmin', token !== null && sameSecret(token, adminToken));
    c.set('user', token !== null && !c.get('isAdmin') ? await authenticateSession(c.get('deps'), token) : null);
    await next();
  };
}

export const requireAdmin: MiddlewareHandler<AppEnv> = async function requireAdmin(c, next) {
  if (!c.get('isAdmin')) {
    throw new SyncctlError('unauthenticated', 'This route needs the admin token as "Authorization: Bearer <token>"');
  }
  await next();
};

export function requireUserOrAdmin(c: Context<AppEnv>): void {
  if (!c.get('isAdmin') && !c.get('user')) {
    throw new SyncctlError('unauthenticated', 'Not logged in; run "syncctl login" or send a session token');
  }
}

/**
 * Checks that the caller may act on `companyId`: the admin may act on any company that exists,
 * a user only on their own (403 for another company's, 404 for one that does not exist).
 */
export async function checkCompanyAccess(c: Context<AppEnv>, companyId: number): Promise<void> {
  requireUserOrAdmin(c);
  await getCompany(c.get('deps'), companyId);
  const user = c.get('user');
  if (user && user.companyId !== companyId) {
    throw new SyncctlError('forbidden', `User ${user.userId} has no access to company ${companyId}`);
  }
}

/** Middleware for `/companies/:companyId/...` routes. */
export const companyAccess: MiddlewareHandler<AppEnv> = async function companyAccess(c, next) {
  const companyId = parseInput(idSchema, c.req.param('companyId'), 'path parameter "companyId"');
  await checkCompanyAccess(c, companyId);
  await next();
};

/** Middleware for agent routes: the caller must present a resource token. */
export const requireResource: MiddlewareHandler<AppEnv> = async function requireResource(c, next) {
  const token = bearerToken(c);
  const resource = token ? await authenticateResource(c.get('deps'), token) : null;
  if (!resource) throw new SyncctlError('unauthenticated', 'Invalid or missing resource token; enroll the agent again');
  c.set('resource', resource);
  await next();
};
