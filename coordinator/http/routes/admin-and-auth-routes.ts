import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { loginSchema, registerCompanySchema } from '../../../src/protocol/company.ts';
import { registerCompany } from '../../services/companies.ts';
import { login, logout } from '../../services/sessions.ts';
import { bearerToken, requireAdmin, sessionCookie } from '../access.ts';
import type { AppEnv } from '../app-env.ts';
import { readJson } from '../read-json.ts';

export const adminAndAuthRoutes = new Hono<AppEnv>();

adminAndAuthRoutes.post('/admin/registerCompany', requireAdmin, async (c) => {
  const input = await readJson(c, registerCompanySchema);
  return c.json(await registerCompany(c.get('deps'), input), 201);
});

adminAndAuthRoutes.post('/auth/login', async (c) => {
  const input = await readJson(c, loginSchema);
  const result = await login(c.get('deps'), input.email, input.password);
  setCookie(c, sessionCookie, result.token, { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: 30 * 24 * 3600 });
  return c.json(result);
});

adminAndAuthRoutes.post('/auth/logout', async (c) => {
  const token = bearerToken(c) ?? getCookie(c, sessionCookie);
  if (token) await logout(c.get('deps'), token);
  deleteCookie(c, sessionCookie, { path: '/' });
  return c.json({ ok: true });
});

adminAndAuthRoutes.get('/auth/whoami', (c) => {
  const user = c.get('user');
  return c.json({ admin: c.get('isAdmin'), user });
});

adminAndAuthRoutes.get('/admin/jobs', requireAdmin, (c) => c.json(c.get('deps').scheduler.armedJobs()));
