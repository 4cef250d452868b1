// Server-server API routes (matrix-spec: data/api/server-server/).
import { signJson } from '../../core/crypto/signing.js';
import { SERVER_NAME_SOFTWARE, VERSION } from '../../version.js';
import type { RouteDef } from '../../http/routes.js';
import { queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';

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
  ];
}

/** How long a published key response may be cached by other servers. */
export const KEY_VALIDITY_MS = 24 * 60 * 60 * 1000;

/** Routes below /_matrix/key. */
export function keyRoutes(services: Services): RouteDef[] {
  return [
    {
      // GET /_matrix/key/v2/server (matrix-spec: server-server/keys_server.yaml#getServerKey)
      method: 'get', path: '/v2/server', auth: 'none',
      handler: async (_req, res) => {
        const key = await services.signingKey();
        const body = {
          server_name: services.config.server_name,
          verify_keys: { [key.keyId]: { key: key.publicKeyBase64 } },
          old_verify_keys: {},
          valid_until_ts: services.clock.now() + KEY_VALIDITY_MS,
        };
        res.json(signJson(body, services.config.server_name, key));
      },
    },
  ];
}
