// Reading rooms (matrix-spec: rooms.yaml, message_pagination.yaml, event_context.yaml,
// list_joined_rooms.yaml, space_hierarchy.yaml, room_event_by_timestamp.yaml). Guests may use the reading endpoints modules/guest_access.md lists
// (state, context, event, state/{type}/{key}, messages, members); joined_members and joined_rooms are
// not on that list.
import type { Request } from 'express';
import { parseInlineRoomEventFilter, type RoomEventFilter } from '../../core/filters.js';
import { DEFAULT_MESSAGES_LIMIT, MAX_MESSAGES_LIMIT, MEMBERSHIPS, type Direction } from '../../core/rooms/read.js';
import { invalidParam, missingParam } from '../../errors.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { sessionOf } from '../../http/session.js';
import { queryBool, queryInt, queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';

/** `filter`: a RoomEventFilter as JSON (invalid JSON: 400 M_NOT_JSON, wrong field types: 400 M_BAD_JSON). */
function filterOf(req: Request): RoomEventFilter | undefined {
  const text = queryString(req.query, 'filter');
  return text === undefined || text === '' ? undefined : parseInlineRoomEventFilter(text);
}

/** `limit`: a non-negative integer, capped; absent: the filter's limit, else the default. */
function limitOf(req: Request, filter: RoomEventFilter | undefined): number {
  const limit = queryInt(req.query, 'limit', { min: 0, max: MAX_MESSAGES_LIMIT });
  return limit ?? Math.min(filter?.limit ?? DEFAULT_MESSAGES_LIMIT, MAX_MESSAGES_LIMIT);
}

function membershipParam(req: Request, key: string): string | undefined {
  const v = queryString(req.query, key);
  if (v !== undefined && !MEMBERSHIPS.includes(v)) throw invalidParam(`'${key}' must be one of ${MEMBERSHIPS.join(', ')}`);
  return v;
}

export function roomReadRoutes(services: Services): RouteDef[] {
  const { reader } = services;
  const param = (req: Request, name: string) => req.params[name] as string;
  const stateWithKey = async (req: Request, res: Parameters<RouteDef['handler']>[1]) => {
    const format = queryString(req.query, 'format') ?? 'content';
    if (format !== 'content' && format !== 'event') throw invalidParam("'format' must be 'content' or 'event'");
    res.json(await reader.stateEvent(authOf(res), param(req, 'roomId'), param(req, 'eventType'), (req.params.stateKey as string | undefined) ?? '', format, sessionOf(res)));
  };
  return [
    {
      // GET /_matrix/client/v1/rooms/{roomId}/hierarchy (matrix-spec: space_hierarchy.yaml#getSpaceHierarchy)
      method: 'get', path: '/v1/rooms/:roomId/hierarchy',
      handler: async (req, res) => {
        const limit = queryInt(req.query, 'limit', { min: 1 });
        const maxDepth = queryInt(req.query, 'max_depth', { min: 0 });
        const from = queryString(req.query, 'from');
        res.json(await services.hierarchy.hierarchy(authOf(res), param(req, 'roomId'), {
          suggestedOnly: queryBool(req.query, 'suggested_only') ?? false,
          ...(limit !== undefined ? { limit } : {}),
          ...(maxDepth !== undefined ? { maxDepth } : {}),
          ...(from !== undefined && from !== '' ? { from } : {}),
        }));
      },
    },
    {
      // GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event (matrix-spec: room_event_by_timestamp.yaml#getEventByTimestamp)
      method: 'get', path: '/v1/rooms/:roomId/timestamp_to_event',
      handler: async (req, res) => {
        const dir = queryString(req.query, 'dir');
        if (dir === undefined) throw missingParam("'dir' is required");
        if (dir !== 'b' && dir !== 'f') throw invalidParam("'dir' must be 'b' or 'f'");
        const ts = queryInt(req.query, 'ts', { min: 0 });
        if (ts === undefined) throw missingParam("'ts' is required");
        res.json(await reader.eventByTimestamp(authOf(res), param(req, 'roomId'), ts, dir));
      },
    },
    {
      // GET /_matrix/client/v3/rooms/{roomId}/event/{eventId} (matrix-spec: rooms.yaml#getOneRoomEvent)
      method: 'get', path: '/v3/rooms/:roomId/event/:eventId', r0: true, guest: true,
      handler: async (req, res) => {
        res.json(await reader.getEvent(authOf(res), param(req, 'roomId'), param(req, 'eventId'), sessionOf(res)));
      },
    },
    {
      // GET /_matrix/client/v3/rooms/{roomId}/messages (matrix-spec: message_pagination.yaml#getRoomEvents)
      method: 'get', path: '/v3/rooms/:roomId/messages', r0: true, guest: true,
      handler: async (req, res) => {
        const dir = queryString(req.query, 'dir');
        if (dir === undefined) throw missingParam("'dir' is required");
        if (dir !== 'b' && dir !== 'f') throw invalidParam("'dir' must be 'b' or 'f'");
        const filter = filterOf(req);
        const from = queryString(req.query, 'from');
        const to = queryString(req.query, 'to');
        res.json(await reader.messages(authOf(res), param(req, 'roomId'), {
          dir: dir as Direction,
          limit: limitOf(req, filter),
          ...(from !== undefined && from !== '' ? { from } : {}),
          ...(to !== undefined && to !== '' ? { to } : {}),
          ...(filter ? { filter } : {}),
        }, sessionOf(res)));
      },
    },
    {
      // GET /_matrix/client/v3/rooms/{roomId}/context/{eventId} (matrix-spec: event_context.yaml#getEventContext)
      method: 'get', path: '/v3/rooms/:roomId/context/:eventId', r0: true, guest: true,
      handler: async (req, res) => {
        const filter = filterOf(req);
        const limit = queryInt(req.query, 'limit', { min: 0, max: MAX_MESSAGES_LIMIT }) ?? DEFAULT_MESSAGES_LIMIT;
        res.json(await reader.context(authOf(res), param(req, 'roomId'), param(req, 'eventId'), limit, filter, sessionOf(res)));
      },
    },
    {
      // GET /_matrix/client/v3/rooms/{roomId}/members (matrix-spec: rooms.yaml#getMembersByRoom)
      method: 'get', path: '/v3/rooms/:roomId/members', r0: true, guest: true,
      handler: async (req, res) => {
        const at = queryString(req.query, 'at');
        const membership = membershipParam(req, 'membership');
        const notMembership = membershipParam(req, 'not_membership');
        res.json(await reader.members(authOf(res), param(req, 'roomId'), {
          ...(at !== undefined && at !== '' ? { at } : {}),
          ...(membership !== undefined ? { membership } : {}),
          ...(notMembership !== undefined ? { notMembership } : {}),
        }, sessionOf(res)));
      },
    },
    {
      // GET /_matrix/client/v3/rooms/{roomId}/joined_members (matrix-spec: rooms.yaml#getJoinedMembersByRoom)
      method: 'get', path: '/v3/rooms/:roomId/joined_members', r0: true,
      handler: async (req, res) => {
        res.json(await reader.joinedMembers(authOf(res), param(req, 'roomId')));
      },
    },
    {
      // GET /_matrix/client/v3/joined_rooms (matrix-spec: list_joined_rooms.yaml#getJoinedRooms)
      method: 'get', path: '/v3/joined_rooms', r0: true,
      handler: async (_req, res) => {
        res.json(await reader.joinedRooms(authOf(res)));
      },
    },
    {
      // GET /_matrix/client/v3/rooms/{roomId}/state (matrix-spec: rooms.yaml#getRoomState)
      method: 'get', path: '/v3/rooms/:roomId/state', r0: true, guest: true,
      handler: async (req, res) => {
        res.json(await reader.roomState(authOf(res), param(req, 'roomId'), sessionOf(res)));
      },
    },
    {
      // GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} (matrix-spec: rooms.yaml#getRoomStateWithKey)
      method: 'get', path: '/v3/rooms/:roomId/state/:eventType/:stateKey', r0: true, guest: true,
      handler: stateWithKey,
    },
    {
      // GET /_matrix/client/v3/rooms/{roomId}/state/{eventType} (empty state key; matrix-spec: rooms.yaml#getRoomStateWithKey)
      method: 'get', path: '/v3/rooms/:roomId/state/:eventType', r0: true, guest: true,
      handler: stateWithKey,
    },
  ];
}
