// Profiles (matrix-spec: profile.yaml).
import { missingParam } from '../../errors.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function profileRoutes(services: Services): RouteDef[] {
  const { profiles } = services;
  return [
    {
      // GET /_matrix/client/v3/profile/{userId} (matrix-spec: profile.yaml#getUserProfile)
      method: 'get', path: '/v3/profile/:userId', r0: true, auth: 'optional', guest: true,
      handler: async (req, res) => {
        res.json(await profiles.get(req.params.userId as string));
      },
    },
    {
      // GET /_matrix/client/v3/profile/{userId}/{keyName} (matrix-spec: profile.yaml#getProfileField)
      method: 'get', path: '/v3/profile/:userId/:keyName', r0: true, auth: 'optional', guest: true,
      handler: async (req, res) => {
        const key = req.params.keyName as string;
        res.json({ [key]: await profiles.getField(req.params.userId as string, key) });
      },
    },
    {
      // PUT /_matrix/client/v3/profile/{userId}/{keyName} (matrix-spec: profile.yaml#setProfileField)
      method: 'put', path: '/v3/profile/:userId/:keyName', r0: true, guest: true,
      handler: async (req, res) => {
        const key = req.params.keyName as string;
        const b = objectBody(req.body);
        if (!(key in b)) throw missingParam(`The body must contain the key '${key}'`);
        await profiles.setField(authOf(res), req.params.userId as string, key, b[key]);
        res.json({});
      },
    },
    {
      // DELETE /_matrix/client/v3/profile/{userId}/{keyName} (matrix-spec: profile.yaml#deleteProfileField)
      method: 'delete', path: '/v3/profile/:userId/:keyName', guest: true,
      handler: async (req, res) => {
        await profiles.deleteField(authOf(res), req.params.userId as string, req.params.keyName as string);
        res.json({});
      },
    },
  ];
}
