// /sync and filters (matrix-spec: sync.yaml, filter.yaml).
import { forbidden, invalidParam } from '../../errors.js';
import { parseSyncToken } from '../../core/tokens.js';
import { authOf } from '../../http/auth.js';
import { sessionOf } from '../../http/session.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, queryBool, queryInt, queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';

const PRESENCE_VALUES = new Set(['online', 'offline', 'unavailable']);

export function syncRoutes(services: Services): RouteDef[] {
  const { sync } = services;
  return [
    {
      // GET /_matrix/client/v3/sync (matrix-spec: sync.yaml#sync)
      method: 'get', path: '/v3/sync', r0: true, hot: true, guest: true,
      handler: async (req, res) => {
        const me = authOf(res);
        // Unknown query parameters (_cacheBuster, org.matrix.msc4222.use_state_after, ...) are ignored.
        const since = queryString(req.query, 'since');
        const setPresence = queryString(req.query, 'set_presence');
        if (setPresence !== undefined && !PRESENCE_VALUES.has(setPresence)) throw invalidParam('set_presence must be online, offline or unavailable');
        const filter = await sync.resolveFilter(me.userId, queryString(req.query, 'filter'));
        // set_presence sets the calling session's presence, like PUT /presence (spec/sessions.md).
        if (setPresence !== undefined) await services.presence.setStatus(me.userId, sessionOf(res), setPresence, undefined);
        const controller = new AbortController();
        const onClose = () => controller.abort();
        res.on('close', onClose);
        try {
          const body = await sync.sync(me, {
            ...(since !== undefined && since !== '' ? { since: parseSyncToken(since) } : {}),
            timeoutMs: queryInt(req.query, 'timeout', { min: 0 }) ?? 0,
            fullState: queryBool(req.query, 'full_state') ?? false,
            ...(filter ? { filter } : {}),
            ...(setPresence ? { setPresence: setPresence as 'online' | 'offline' | 'unavailable' } : {}),
            domainSenders: sessionOf(res).domainSenders,
            signal: controller.signal,
          });
          if (!res.writableEnded && !controller.signal.aborted) res.json(body);
        } finally {
          res.off('close', onClose);
        }
      },
    },
    {
      // POST /_matrix/client/v3/user/{userId}/filter (matrix-spec: filter.yaml#defineFilter)
      method: 'post', path: '/v3/user/:userId/filter', r0: true, guest: true,
      handler: async (req, res) => {
        const me = authOf(res);
        if (req.params.userId !== me.userId) throw forbidden('You can only create filters for yourself');
        res.json({ filter_id: await sync.createFilter(me.userId, objectBody(req.body)) });
      },
    },
    {
      // GET /_matrix/client/v3/user/{userId}/filter/{filterId} (matrix-spec: filter.yaml#getFilter)
      method: 'get', path: '/v3/user/:userId/filter/:filterId', r0: true, guest: true,
      handler: async (req, res) => {
        const me = authOf(res);
        if (req.params.userId !== me.userId) throw forbidden('You can only read your own filters');
        res.json(await sync.getFilter(me.userId, req.params.filterId as string));
      },
    },
  ];
}
