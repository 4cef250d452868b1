// The room-level server-server API: membership through a resident server, invites, and a room's
// events and state for other servers (matrix-spec: server-server/joins-v1.yaml, joins-v2.yaml,
// leaving-v1.yaml, leaving-v2.yaml, invites-v2.yaml, events.yaml, event_auth.yaml, backfill.yaml).
// Thin: the origin is the authenticated server (X-Matrix), the rest is core/federation.
import { badJson, missingParam } from '../../errors.js';
import { federationOrigin } from '../../http/federation-auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, queryBool, queryInt, queryString, queryStrings } from '../../http/validate.js';
import type { Services } from '../../services.js';

/** A membership event or an invite with its stripped state: at most a few hundred KiB. */
const MEMBERSHIP_BODY_BYTES = 1024 * 1024;

export function federationRoomRoutes(services: Services): RouteDef[] {
  const rooms = () => services.federationRooms;
  const p = (v: unknown) => v as string;
  return [
    {
      // GET /_matrix/federation/v1/make_join/{roomId}/{userId} (matrix-spec: server-server/joins-v1.yaml#makeJoin)
      method: 'get', path: '/v1/make_join/:roomId/:userId', auth: 'federation',
      handler: async (req, res) => {
        res.json(await rooms().resident.makeJoin(federationOrigin(res), p(req.params.roomId), p(req.params.userId), queryStrings(req.query, 'ver')));
      },
    },
    {
      // PUT /_matrix/federation/v2/send_join/{roomId}/{eventId} (matrix-spec: server-server/joins-v2.yaml#sendJoinV2)
      method: 'put', path: '/v2/send_join/:roomId/:eventId', auth: 'federation', maxBodyBytes: MEMBERSHIP_BODY_BYTES,
      handler: async (req, res) => {
        // omit_members may be asked for; the full state is always answered (members_omitted: false).
        queryBool(req.query, 'omit_members');
        res.json(await rooms().resident.sendJoin(federationOrigin(res), p(req.params.roomId), p(req.params.eventId), req.body));
      },
    },
    {
      // PUT /_matrix/federation/v1/send_join/{roomId}/{eventId} (matrix-spec: server-server/joins-v1.yaml#sendJoinV1, deprecated)
      method: 'put', path: '/v1/send_join/:roomId/:eventId', auth: 'federation', maxBodyBytes: MEMBERSHIP_BODY_BYTES,
      handler: async (req, res) => {
        const { members_omitted: _m, servers_in_room: _s, ...answer } = await rooms().resident.sendJoin(federationOrigin(res), p(req.params.roomId), p(req.params.eventId), req.body);
        res.json([200, answer]);
      },
    },
    {
      // GET /_matrix/federation/v1/make_leave/{roomId}/{userId} (matrix-spec: server-server/leaving-v1.yaml#makeLeave)
      method: 'get', path: '/v1/make_leave/:roomId/:userId', auth: 'federation',
      handler: async (req, res) => {
        res.json(await rooms().resident.makeLeave(federationOrigin(res), p(req.params.roomId), p(req.params.userId)));
      },
    },
    {
      // PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId} (matrix-spec: server-server/leaving-v2.yaml#sendLeaveV2)
      method: 'put', path: '/v2/send_leave/:roomId/:eventId', auth: 'federation', maxBodyBytes: MEMBERSHIP_BODY_BYTES,
      handler: async (req, res) => {
        res.json(await rooms().resident.sendLeave(federationOrigin(res), p(req.params.roomId), p(req.params.eventId), req.body));
      },
    },
    {
      // PUT /_matrix/federation/v1/send_leave/{roomId}/{eventId} (matrix-spec: server-server/leaving-v1.yaml#sendLeaveV1, deprecated)
      method: 'put', path: '/v1/send_leave/:roomId/:eventId', auth: 'federation', maxBodyBytes: MEMBERSHIP_BODY_BYTES,
      handler: async (req, res) => {
        res.json([200, await rooms().resident.sendLeave(federationOrigin(res), p(req.params.roomId), p(req.params.eventId), req.body)]);
      },
    },
    {
      // PUT /_matrix/federation/v2/invite/{roomId}/{eventId} (matrix-spec: server-server/invites-v2.yaml#sendInviteV2)
      method: 'put', path: '/v2/invite/:roomId/:eventId', auth: 'federation', maxBodyBytes: MEMBERSHIP_BODY_BYTES,
      handler: async (req, res) => {
        res.json(await rooms().resident.invite(federationOrigin(res), p(req.params.roomId), p(req.params.eventId), req.body));
      },
    },
    {
      // GET /_matrix/federation/v1/event/{eventId} (matrix-spec: server-server/events.yaml#getEvent)
      method: 'get', path: '/v1/event/:eventId', auth: 'federation',
      handler: async (req, res) => {
        res.json(await rooms().history.event(federationOrigin(res), p(req.params.eventId)));
      },
    },
    {
      // GET /_matrix/federation/v1/state/{roomId} (matrix-spec: server-server/events.yaml#getRoomState)
      method: 'get', path: '/v1/state/:roomId', auth: 'federation',
      handler: async (req, res) => {
        res.json(await rooms().history.state(federationOrigin(res), p(req.params.roomId), requiredEventId(req.query)));
      },
    },
    {
      // GET /_matrix/federation/v1/state_ids/{roomId} (matrix-spec: server-server/events.yaml#getRoomStateIds)
      method: 'get', path: '/v1/state_ids/:roomId', auth: 'federation',
      handler: async (req, res) => {
        res.json(await rooms().history.stateIds(federationOrigin(res), p(req.params.roomId), requiredEventId(req.query)));
      },
    },
    {
      // GET /_matrix/federation/v1/event_auth/{roomId}/{eventId} (matrix-spec: server-server/event_auth.yaml#getEventAuth)
      method: 'get', path: '/v1/event_auth/:roomId/:eventId', auth: 'federation',
      handler: async (req, res) => {
        res.json(await rooms().history.eventAuth(federationOrigin(res), p(req.params.roomId), p(req.params.eventId)));
      },
    },
    {
      // GET /_matrix/federation/v1/backfill/{roomId} (matrix-spec: server-server/backfill.yaml#backfillRoom)
      method: 'get', path: '/v1/backfill/:roomId', auth: 'federation',
      handler: async (req, res) => {
        const from = queryStrings(req.query, 'v');
        if (from.length === 0) throw missingParam("Missing query parameter 'v'");
        const limit = queryInt(req.query, 'limit', { min: 0 });
        if (limit === undefined) throw missingParam("Missing query parameter 'limit'");
        res.json(await rooms().history.backfill(federationOrigin(res), p(req.params.roomId), from, limit));
      },
    },
    {
      // POST /_matrix/federation/v1/get_missing_events/{roomId} (matrix-spec: server-server/events.yaml#getMissingPreviousEvents)
      method: 'post', path: '/v1/get_missing_events/:roomId', auth: 'federation',
      handler: async (req, res) => {
        const b = objectBody(req.body);
        const ids = (key: string): string[] => {
          const v = b[key];
          if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badJson(`'${key}' must be a list of event IDs`);
          return v as string[];
        };
        const limit = b.limit === undefined ? 10 : b.limit;
        const minDepth = b.min_depth === undefined ? 0 : b.min_depth;
        if (typeof limit !== 'number' || !Number.isInteger(limit) || typeof minDepth !== 'number' || !Number.isInteger(minDepth)) throw badJson("'limit' and 'min_depth' must be integers");
        res.json(await rooms().history.missingEvents(federationOrigin(res), p(req.params.roomId), { earliest: ids('earliest_events'), latest: ids('latest_events'), limit, minDepth }));
      },
    },
  ];
}

function requiredEventId(query: unknown): string {
  const id = queryString(query, 'event_id');
  if (id === undefined) throw missingParam("Missing query parameter 'event_id'");
  return id;
}
