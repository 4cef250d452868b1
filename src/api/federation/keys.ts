// Key routes below /_matrix/key (matrix-spec: server-server/keys_server.yaml, keys_query.yaml): this
// server's own keys, and the notary endpoints that serve other servers' keys (as they published
// them, fetched or cached) signed by this server. Unauthenticated, as the spec has them.
import { ownKeyResponse } from '../../core/federation/keyring.js';
import { isValidServerName } from '../../core/ids.js';
import { badJson, invalidParam } from '../../errors.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, queryInt } from '../../http/validate.js';
import type { Services } from '../../services.js';

/** The most servers one POST /_matrix/key/v2/query may ask about (each may cost a fetch). */
export const MAX_NOTARY_SERVERS = 100;

export function keyRoutes(services: Services): RouteDef[] {
  const { config, clock } = services;
  const keyRing = services.federation.keyRing;
  const mayFetch = (serverName: string) => services.federation.client.allows(serverName);
  return [
    {
      // GET /_matrix/key/v2/server (matrix-spec: server-server/keys_server.yaml#getServerKey)
      method: 'get', path: '/v2/server', auth: 'none',
      handler: async (_req, res) => {
        res.json(ownKeyResponse(config.server_name, await services.signingKey(), clock.now()));
      },
    },
    {
      // GET /_matrix/key/v2/query/{serverName} (matrix-spec: server-server/keys_query.yaml#perspectivesKeyQuery)
      method: 'get', path: '/v2/query/:serverName', auth: 'none',
      handler: async (req, res) => {
        const serverName = req.params.serverName as string;
        if (!isValidServerName(serverName)) throw invalidParam('serverName is not a server name');
        // "If not supplied, the notary server MUST use the current time."
        const minimum = queryInt(req.query, 'minimum_valid_until_ts', { min: 0 }) ?? clock.now();
        const keys = await keyRing.notaryResponse(serverName, minimum, mayFetch(serverName));
        res.json({ server_keys: keys ? [keys] : [] });
      },
    },
    {
      // POST /_matrix/key/v2/query (matrix-spec: server-server/keys_query.yaml#bulkPerspectivesKeyQuery)
      method: 'post', path: '/v2/query', auth: 'none',
      handler: async (req, res) => {
        const body = objectBody(req.body);
        const query = body.server_keys;
        if (typeof query !== 'object' || query === null || Array.isArray(query)) throw badJson('server_keys must be an object');
        const servers = Object.entries(query as Record<string, unknown>);
        if (servers.length > MAX_NOTARY_SERVERS) throw badJson(`At most ${MAX_NOTARY_SERVERS} servers per query`);
        const now = clock.now();
        const answers = await Promise.all(servers.map(async ([serverName, criteria]) => {
          if (!isValidServerName(serverName)) return undefined;
          const keyIds = typeof criteria === 'object' && criteria !== null && !Array.isArray(criteria) ? Object.keys(criteria) : [];
          // The latest minimum_valid_until_ts asked for any of its keys, else now.
          let minimum = now;
          for (const id of keyIds) {
            const ts = (criteria as Record<string, { minimum_valid_until_ts?: unknown } | null>)[id]?.minimum_valid_until_ts;
            if (typeof ts === 'number' && Number.isSafeInteger(ts)) minimum = Math.max(minimum, ts);
          }
          return keyRing.notaryResponse(serverName, minimum, mayFetch(serverName), keyIds);
        }));
        res.json({ server_keys: answers.filter((a) => a !== undefined) });
      },
    },
  ];
}
