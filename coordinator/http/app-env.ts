import type { HttpBindings } from '@hono/node-server';
import type { ServiceDeps } from '../services/service-deps.ts';
import type { SessionUser } from '../services/sessions.ts';
import type { ResourceRow } from '../services/resources.ts';

/** Per-request values that the access checks set for the route handlers. */
export interface AppEnv {
  /** The node:http request and response under each request, which the store routes stream. */
  Bindings: HttpBindings;
  Variables: {
    deps: ServiceDeps;
    user: SessionUser | null;
    isAdmin: boolean;
    resource: ResourceRow;
  };
}
