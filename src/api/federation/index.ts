// Server-server API routes (matrix-spec: data/api/server-server/).
import { SERVER_NAME_SOFTWARE, VERSION } from '../../version.js';
import type { RouteDef } from '../../http/routes.js';
import { queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';
import { federationMediaRoutes } from './media.js';
import { federationRoomRoutes } from './rooms.js';
import { publicRoomsRoutes } from './public-rooms.js';
import { queryRoutes } from './query.js';
import { transactionRoutes } from './transactions.js';
import { federationUserKeyRoutes } from './user-keys.js';

export { keyRoutes } from './keys.js';

/** Routes below /_matrix/federation. */
export function federationRoutes(services: Services): RouteDef[] {
  return [
    {
      // GET /_matrix/federation/v1/openid/userinfo (matrix-spec: server-server/openid.yaml#exchangeOpenIdToken)
      // An integration server resolves a client's OpenID token; no server signature is needed (the
      // token is the credential), so it is answered without federation auth.
      method: 'get', path: '/v1/openid/userinfo', auth: 'none',
      handler: async (req, res) => {
        res.json(await services.openId.userInfo(queryString(req.query, 'access_token')));
      },
    },
    {
      // GET /_matrix/federation/v1/version (matrix-spec: server-server/version.yaml#getVersion)
      method: 'get', path: '/v1/version', auth: 'none',
      handler: (_req, res) => {
        res.json({ server: { name: SERVER_NAME_SOFTWARE, version: VERSION } });
      },
    },
    ...transactionRoutes(services),
    ...federationRoomRoutes(services),
    ...queryRoutes(services),
    ...publicRoomsRoutes(services),
    ...federationUserKeyRoutes(services),
    ...federationMediaRoutes(services),
  ];
}
