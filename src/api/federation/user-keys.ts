// End-to-end encryption keys of this server's users for other servers (matrix-spec:
// server-server/user_keys.yaml, user_devices.yaml; server-server-api "Device Management",
// "End-to-End Encryption"). Thin: the origin is authenticated (X-Matrix); the answers are
// core/e2ee/federation.ts's, local users only.
import type { RouteDef } from '../../http/routes.js';
import { objectBody } from '../../http/validate.js';
import type { Services } from '../../services.js';
import type { JsonObject } from '../../wire.js';

export function federationUserKeyRoutes(services: Services): RouteDef[] {
  const e2ee = () => services.e2eeFederation;
  return [
    {
      // POST /_matrix/federation/v1/user/keys/query (matrix-spec: server-server/user_keys.yaml#queryUserEncryptionKeys)
      method: 'post', path: '/v1/user/keys/query', auth: 'federation',
      handler: async (req, res) => {
        res.json(await e2ee().queryKeys(objectBody(req.body) as JsonObject));
      },
    },
    {
      // POST /_matrix/federation/v1/user/keys/claim (matrix-spec: server-server/user_keys.yaml#claimUserEncryptionKeys)
      method: 'post', path: '/v1/user/keys/claim', auth: 'federation',
      handler: async (req, res) => {
        res.json(await e2ee().claimKeys(objectBody(req.body) as JsonObject));
      },
    },
    {
      // GET /_matrix/federation/v1/user/devices/{userId} (matrix-spec: server-server/user_devices.yaml#getUserDevices)
      method: 'get', path: '/v1/user/devices/:userId', auth: 'federation',
      handler: async (req, res) => {
        res.json(await e2ee().userDevices(req.params.userId as string));
      },
    },
  ];
}
