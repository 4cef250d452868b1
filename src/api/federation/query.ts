// Queries from other servers (matrix-spec: server-server/query.yaml): a local user's profile, a local
// room alias; any other query type is unknown here.
import { missingParam, unrecognized } from '../../errors.js';
import type { RouteDef } from '../../http/routes.js';
import { queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';

function required(query: unknown, key: string): string {
  const v = queryString(query, key);
  if (v === undefined) throw missingParam(`Query parameter '${key}' is required`);
  return v;
}

export function queryRoutes(services: Services): RouteDef[] {
  return [
    {
      // GET /_matrix/federation/v1/query/profile (matrix-spec: server-server/query.yaml#queryProfile)
      method: 'get', path: '/v1/query/profile', auth: 'federation',
      handler: async (req, res) => {
        res.json(await services.profiles.queryFromFederation(required(req.query, 'user_id'), queryString(req.query, 'field')));
      },
    },
    {
      // GET /_matrix/federation/v1/query/directory (matrix-spec: server-server/query.yaml#queryRoomDirectory)
      method: 'get', path: '/v1/query/directory', auth: 'federation',
      handler: async (req, res) => {
        res.json(await services.directory.resolveLocalAlias(required(req.query, 'room_alias')));
      },
    },
    {
      // GET /_matrix/federation/v1/query/{queryType} (matrix-spec: server-server/query.yaml#queryInfo)
      // Only the query types above are known: any other is an unsupported endpoint, 404 M_UNRECOGNIZED
      // (server-server-api "Unsupported endpoints"), answered to authenticated servers only.
      method: 'get', path: '/v1/query/:queryType', auth: 'federation',
      handler: (req) => {
        throw unrecognized(`Unknown query type: ${req.params.queryType as string}`);
      },
    },
  ];
}
