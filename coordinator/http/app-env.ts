import type { ServiceDeps } from '../services/service-deps.ts';
import type { SessionUser } from '../services/sessions.ts';
import type { ResourceRow } from '../services/resources.ts';

/** Per-request values that the access checks set for the route handlers. */
export interface AppEnv {
  Variables: {
    deps: ServiceDeps;
    user: SessionUser | null;
    isAdmin: boolean;
    resource: ResourceRow;
  };
}
