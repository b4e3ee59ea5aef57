import { SyncctlError } from '../../src/protocol/errors.ts';
import type { LoginResult } from '../../src/protocol/company.ts';
import { LoginThrottle } from './login-throttle.ts';
import { generateToken, hashToken, nowIso, verifyPassword } from './secrets.ts';
import type { ServiceDeps } from './service-deps.ts';

const sessionLifetimeMs = 30 * 24 * 3600 * 1000;
const loginThrottle = new LoginThrottle();

export interface SessionUser {
  userId: number;
  companyId: number;
  email: string;
}

/** Opens a session for a user's email and password; the token is stored only as its hash. */
export async function login(deps: ServiceDeps, email: string, password: string): Promise<LoginResult> {
  loginThrottle.check(email);
  const user = await deps.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  const valid = user ? await verifyPassword(password, user.password_hash) : false;
  if (!user || !valid) {
    loginThrottle.recordFailure(email);
    deps.logger.info({ email }, 'login failed');
    throw new SyncctlError('unauthenticated', 'Invalid email or password');
  }
  loginThrottle.recordSuccess(email);

  const token = generateToken();
  const now = new Date();
  await deps.db
    .insertInto('sessions')
    .values({
      token_hash: hashToken(token),
      user_id: user.id,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + sessionLifetimeMs).toISOString(),
    })
    .execute();

  deps.logger.info({ userId: user.id, companyId: user.company_id }, 'session opened');
  return { token, userId: user.id, companyId: user.company_id };
}

export async function logout(deps: ServiceDeps, token: string): Promise<void> {
  await deps.db.deleteFrom('sessions').where('token_hash', '=', hashToken(token)).execute();
}

/** Returns the session's user, or null for an unknown or expired token. */
export async function authenticateSession(deps: ServiceDeps, token: string): Promise<SessionUser | null> {
  const row = await deps.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['users.id as userId', 'users.company_id as companyId', 'users.email as email', 'sessions.expires_at as expiresAt'])
    .where('sessions.token_hash', '=', hashToken(token))
    .executeTakeFirst();
  if (!row || row.expiresAt < nowIso()) return null;
  return { userId: row.userId, companyId: row.companyId, email: row.email };
}
