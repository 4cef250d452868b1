// Every client-server route, by spec area. spec/endpoints.md lists them with their operationIds.
import type { RouteDef } from '../../http/routes.js';
import type { Services } from '../../services.js';
import { accountRoutes } from './account.js';
import { deviceRoutes } from './devices.js';
import { loginRoutes } from './login.js';
import { profileRoutes } from './profile.js';
import { registerRoutes } from './register.js';
import { versionRoutes } from './versions.js';

export { wellKnownRoutes } from './versions.js';

/** Routes below /_matrix/client. */
export function clientRoutes(services: Services): RouteDef[] {
  return [
    ...versionRoutes(services),
    ...registerRoutes(services),
    ...loginRoutes(services),
    ...accountRoutes(services),
    ...deviceRoutes(services),
    ...profileRoutes(services),
  ];
}
