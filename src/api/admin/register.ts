// Shared-secret registration, compatible with Synapse's admin API
// (Synapse docs: admin_api/register_api: GET for a nonce, POST with an HMAC-SHA1 over
//  nonce NUL username NUL password NUL "admin"|"notadmin" [NUL user_type]).
import { MatrixError } from '../../errors.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optBool, optString, reqString } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function sharedSecretRegisterRoutes(services: Services): RouteDef[] {
  const { registration, config, rateLimiter } = services;
  const enabled = () => {
    if (!config.registration_shared_secret) throw new MatrixError(400, 'M_UNKNOWN', 'Shared secret registration is not enabled');
  };
  return [
    {
      // GET /_synapse/admin/v1/register (Synapse admin API: register_api)
      method: 'get', path: '/_synapse/admin/v1/register', auth: 'none',
      handler: (_req, res) => {
        enabled();
        res.json({ nonce: registration.newRegistrationNonce() });
      },
    },
    {
      // POST /_synapse/admin/v1/register (Synapse admin API: register_api)
      method: 'post', path: '/_synapse/admin/v1/register', auth: 'none',
      handler: async (req, res) => {
        enabled();
        await rateLimiter.check('registration', req.ip ?? 'unknown');
        const b = objectBody(req.body);
        const result = await registration.sharedSecretRegister({
          nonce: reqString(b, 'nonce'),
          username: reqString(b, 'username'),
          password: reqString(b, 'password'),
          admin: optBool(b, 'admin') ?? false,
          mac: reqString(b, 'mac'),
          displayname: optString(b, 'displayname'),
          userType: optString(b, 'user_type'),
        });
        res.json(result);
      },
    },
  ];
}
