import { Hono } from 'hono';
import type { ServiceDeps } from '../services/service-deps.ts';
import type { SignedTransferStore } from '../store/object-store.ts';
import { identifyCaller } from './access.ts';
import type { AppEnv } from './app-env.ts';
import { errorResponse } from './error-response.ts';
import { adminAndAuthRoutes } from './routes/admin-and-auth-routes.ts';
import { agentRoutes } from './routes/agent-routes.ts';
import { backupConfigRoutes } from './routes/backup-config-routes.ts';
import { companyRoutes } from './routes/company-routes.ts';
import { legacyRoutes } from './routes/legacy-routes.ts';
import { storeRoutes } from './routes/store-routes.ts';
import { agentSyncRoutes } from './routes/agent-sync-routes.ts';
import { syncConfigRoutes } from './routes/sync-config-routes.ts';

export interface AppOptions {
  adminToken: string;
  /** The local store, whose signed URLs this app serves; absent for stores with their own endpoint. */
  transferStore?: SignedTransferStore;
  isReady: () => boolean;
}

/** Builds the coordinator's HTTP app: every route, the access checks and the error mapping. */
export function createApp(deps: ServiceDeps, options: AppOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    c.set('deps', deps);
    await next();
  });
  app.onError(errorResponse);
  app.notFound((c) => c.json({ error: { code: 'notFound', message: `No route for ${c.req.method} ${c.req.path}` } }, 404));

  app.get('/healthz', (c) => (options.isReady() ? c.json({ ok: true }) : c.json({ ok: false }, 503)));
  if (options.transferStore) app.route('/', storeRoutes(options.transferStore));
  app.use('*', identifyCaller(options.adminToken));
  app.route('/', adminAndAuthRoutes);
  app.route('/', agentRoutes);
  // After agentRoutes, whose `/agent/*` middleware checks the resource token for these too.
  app.route('/', agentSyncRoutes);
  app.route('/', companyRoutes);
  app.route('/', backupConfigRoutes);
  app.route('/', legacyRoutes);
  app.route('/', syncConfigRoutes);
  return app;
}
