// Registration (matrix-spec: registration.yaml).
import { invalidParam, missingParam } from '../../errors.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, optBool, optObject, optString, queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function registerRoutes(services: Services): RouteDef[] {
  const { registration, registrationTokens, rateLimiter } = services;
  return [
    {
      // POST /_matrix/client/v3/register (matrix-spec: registration.yaml#register)
      method: 'post', path: '/v3/register', r0: true, auth: 'none',
      handler: async (req, res) => {
        const kind = queryString(req.query, 'kind') ?? 'user';
        if (kind !== 'user' && kind !== 'guest') throw invalidParam(`Unknown account kind '${kind}'`);
        const b = objectBody(req.body);
        const auth = optObject(b, 'auth');
        // Count attempts per IP; the continuation of a UIA round-trip (it names a session) is part of one attempt.
        if (auth === undefined || auth.session === undefined || kind === 'guest') await rateLimiter.check('registration', req.ip ?? 'unknown');
        optBool(b, 'refresh_token'); // tolerated: we issue non-expiring tokens
        const result = await registration.register({
          username: optString(b, 'username'),
          password: optString(b, 'password'),
          deviceId: optString(b, 'device_id'),
          initialDeviceDisplayName: optString(b, 'initial_device_display_name'),
          inhibitLogin: optBool(b, 'inhibit_login') ?? false,
          guest: kind === 'guest',
          auth,
        });
        res.json(result);
      },
    },
    {
      // GET /_matrix/client/v3/register/available (matrix-spec: registration.yaml#checkUsernameAvailability)
      method: 'get', path: '/v3/register/available', r0: true, auth: 'none',
      handler: async (req, res) => {
        await rateLimiter.check('registration', req.ip ?? 'unknown');
        const username = queryString(req.query, 'username');
        if (username === undefined) throw missingParam("Query parameter 'username' is required");
        await registration.checkAvailable(username);
        res.json({ available: true });
      },
    },
    {
      // GET /_matrix/client/v1/register/m.login.registration_token/validity (matrix-spec: registration_tokens.yaml#registrationTokenValidity)
      method: 'get', path: '/v1/register/m.login.registration_token/validity', auth: 'none',
      handler: async (req, res) => {
        // "Servers should be sure to rate limit this endpoint to avoid brute force attacks."
        await rateLimiter.check('registration', req.ip ?? 'unknown');
        const token = queryString(req.query, 'token');
        if (token === undefined) throw missingParam("Query parameter 'token' is required");
        res.json({ valid: await registrationTokens.validity(token) });
      },
    },
  ];
}
