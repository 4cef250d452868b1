// Server-server API routes (matrix-spec: data/api/server-server/).
import { SERVER_NAME_SOFTWARE, VERSION } from '../../version.js';
import type { RouteDef } from '../../http/routes.js';
import type { Services } from '../../services.js';

/** Routes below /_matrix/federation. */
export function federationRoutes(_services: Services): RouteDef[] {
  return [
    {
      // GET /_matrix/federation/v1/version (matrix-spec: server-server/version.yaml#getVersion)
      method: 'get', path: '/v1/version', auth: 'none',
      handler: (_req, res) => {
        res.json({ server: { name: SERVER_NAME_SOFTWARE, version: VERSION } });
      },
    },
  ];
}

/** Routes below /_matrix/key. */
export function keyRoutes(_services: Services): RouteDef[] {
  return [];
}
