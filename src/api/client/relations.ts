// Relations and threads (matrix-spec: relations.yaml, threads_list.yaml; spec/relations.md).
import type { Request } from 'express';
import { DEFAULT_RELATIONS_LIMIT, DEFAULT_THREADS_LIMIT, MAX_RELATIONS_LIMIT, MAX_THREADS_LIMIT } from '../../core/rooms/relations.js';
import { invalidParam } from '../../errors.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { sessionOf } from '../../http/session.js';
import { queryBool, queryInt, queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';

const nonEmpty = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);

export function relationRoutes(services: Services): RouteDef[] {
  const { relations } = services;
  const relatingEvents = async (req: Request, res: Parameters<RouteDef['handler']>[1]) => {
    const dir = queryString(req.query, 'dir') ?? 'b';
    if (dir !== 'b' && dir !== 'f') throw invalidParam("'dir' must be 'b' or 'f'");
    const from = nonEmpty(queryString(req.query, 'from'));
    const to = nonEmpty(queryString(req.query, 'to'));
    const recurse = queryBool(req.query, 'recurse');
    const relType = req.params.relType as string | undefined;
    const eventType = req.params.eventType as string | undefined;
    res.json(await relations.relations(authOf(res), req.params.roomId as string, req.params.eventId as string, {
      dir,
      limit: queryInt(req.query, 'limit', { min: 1, max: MAX_RELATIONS_LIMIT }) ?? DEFAULT_RELATIONS_LIMIT,
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(recurse !== undefined ? { recurse } : {}),
      ...(relType !== undefined ? { relType } : {}),
      ...(eventType !== undefined ? { eventType } : {}),
    }, sessionOf(res)));
  };
  return [
    {
      // GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId} (matrix-spec: relations.yaml#getRelatingEvents)
      method: 'get', path: '/v1/rooms/:roomId/relations/:eventId',
      handler: relatingEvents,
    },
    {
      // GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType} (matrix-spec: relations.yaml#getRelatingEventsWithRelType)
      method: 'get', path: '/v1/rooms/:roomId/relations/:eventId/:relType',
      handler: relatingEvents,
    },
    {
      // GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType} (matrix-spec: relations.yaml#getRelatingEventsWithRelTypeAndEventType)
      method: 'get', path: '/v1/rooms/:roomId/relations/:eventId/:relType/:eventType',
      handler: relatingEvents,
    },
    {
      // GET /_matrix/client/v1/rooms/{roomId}/threads (matrix-spec: threads_list.yaml#getThreadRoots)
      method: 'get', path: '/v1/rooms/:roomId/threads',
      handler: async (req, res) => {
        const include = queryString(req.query, 'include') ?? 'all';
        if (include !== 'all' && include !== 'participated') throw invalidParam("'include' must be 'all' or 'participated'");
        const from = nonEmpty(queryString(req.query, 'from'));
        res.json(await relations.threads(authOf(res), req.params.roomId as string, {
          include,
          limit: queryInt(req.query, 'limit', { min: 1, max: MAX_THREADS_LIMIT }) ?? DEFAULT_THREADS_LIMIT,
          ...(from !== undefined ? { from } : {}),
        }, sessionOf(res)));
      },
    },
  ];
}
