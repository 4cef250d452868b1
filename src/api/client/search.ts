// Server-side search (matrix-spec: search.yaml; spec/search.md).
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { sessionOf } from '../../http/session.js';
import { queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';

export function searchRoutes(services: Services): RouteDef[] {
  return [
    {
      // POST /_matrix/client/v3/search (matrix-spec: search.yaml#search)
      method: 'post', path: '/v3/search', r0: true,
      handler: async (req, res) => {
        const nextBatch = queryString(req.query, 'next_batch');
        res.json(await services.search.search(authOf(res), req.body, nextBatch === '' ? undefined : nextBatch, sessionOf(res)));
      },
    },
  ];
}
