// This server's public room directory, for other servers (matrix-spec: server-server/public_rooms.yaml):
// the same list and filters as the client API's /publicRooms.
import type { RouteDef } from '../../http/routes.js';
import { objectBody, queryBool, queryInt, queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';
import { parsePublicRoomsBody } from '../client/directory.js';

export function publicRoomsRoutes(services: Services): RouteDef[] {
  const { directory } = services;
  return [
    {
      // GET /_matrix/federation/v1/publicRooms (matrix-spec: server-server/public_rooms.yaml#getPublicRooms)
      method: 'get', path: '/v1/publicRooms', auth: 'federation',
      handler: async (req, res) => {
        res.json(await directory.publicRooms({
          limit: queryInt(req.query, 'limit', { min: 0 }),
          since: queryString(req.query, 'since'),
          includeAllNetworks: queryBool(req.query, 'include_all_networks'),
          thirdPartyInstanceId: queryString(req.query, 'third_party_instance_id'),
        }));
      },
    },
    {
      // POST /_matrix/federation/v1/publicRooms (matrix-spec: server-server/public_rooms.yaml#queryPublicRooms)
      method: 'post', path: '/v1/publicRooms', auth: 'federation',
      handler: async (req, res) => {
        res.json(await directory.publicRooms(parsePublicRoomsBody(objectBody(req.body))));
      },
    },
  ];
}
