// Pushers (matrix-spec: pusher.yaml; spec/pushers.md).
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import type { Services } from '../../services.js';

export function pusherRoutes(services: Services): RouteDef[] {
  const { pushers } = services;
  return [
    {
      // GET /_matrix/client/v3/pushers (matrix-spec: pusher.yaml#getPushers)
      method: 'get', path: '/v3/pushers', r0: true,
      handler: async (_req, res) => {
        res.json(await pushers.list(authOf(res)));
      },
    },
    {
      // POST /_matrix/client/v3/pushers/set (matrix-spec: pusher.yaml#postPusher)
      method: 'post', path: '/v3/pushers/set', r0: true,
      handler: async (req, res) => {
        await pushers.set(authOf(res), req.body);
        res.json({});
      },
    },
  ];
}
